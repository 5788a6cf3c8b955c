// The co-browse viewer's heavy parts, fetched only when an agent opens a live view: rrweb's
// replayer and the msgpack decoder for the shopper's batches.

export { Replayer } from "@rrweb/replay";
export { decode } from "@msgpack/msgpack";
