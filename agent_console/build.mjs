// Builds the agent console into agent_console/dist/ (git-ignored; `make install` runs it through
// `npm run build`): console.js, an ES module with socket.io-client bundled in; replay-<hash>.js, the
// co-browse replayer it fetches when needed; replay.css, rrweb's replayer styles; a .gz twin of
// each. index.html and console.css are served from agent_console/ as they are.

import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

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
for (const name of await readdir(dist)) {
  const body = await readFile(join(dist, name));
  const gzipped = gzipSync(body, { level: 9 });
  await writeFile(join(dist, `${name}.gz`), gzipped);
  console.log(`agent_console/dist/${name}: ${body.length} bytes, ${gzipped.length} gzipped`);
}
