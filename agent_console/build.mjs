// Builds the agent console into agent_console/dist/ (git-ignored; `make install` runs it through
// `npm run build`): console.js, an ES module with socket.io-client bundled in; replay-<hash>.js, the
// co-browse replayer it fetches when needed; replay.css, rrweb's replayer styles; index.html and
// console.css copied as they are; .gz and .br twins of each (scripts/precompress.mjs).

import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { precompress } from "../scripts/precompress.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await esbuild.build({
  entryPoints: { console: join(here, "src", "main.js") },
  outdir: dist,
  entryNames: "[name]",
  // The co-browse viewer's replayer (src/replay.js) is a chunk of its own, fetched on first use.
  splitting: true,
  chunkNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  legalComments: "eof",
  logLevel: "warning",
});
// rrweb's replayer styles (the shopper's mouse cursor in the live view), from the npm package.
await copyFile(join(here, "..", "node_modules", "@rrweb", "replay", "dist", "style.css"), join(dist, "replay.css"));
for (const name of ["index.html", "console.css"]) await copyFile(join(here, name), join(dist, name));
for (const name of await readdir(dist)) {
  const size = await precompress(join(dist, name));
  console.log(`agent_console/dist/${name}: ${size.bytes} bytes, ${size.gzip} gzipped, ${size.brotli} brotli`);
}
