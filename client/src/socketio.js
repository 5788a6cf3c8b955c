// The Socket.IO client (socket.io-client from npm), bundled by client/build.mjs into its own chunk
// so that the loader can fetch it alongside the chat UI.
export { io } from "socket.io-client";
