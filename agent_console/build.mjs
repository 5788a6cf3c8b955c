// Builds the agent console into agent_console/dist/ (git-ignored; `make install` runs it through
// `npm run build`): console.js, one ES module with socket.io-client bundled in, and its .gz twin.
// index.html and console.css are served from agent_console/ as they are.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, "src", "main.js")],
  outfile: join(dist, "console.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  legalComments: "eof",
  logLevel: "warning",
});
const body = await readFile(join(dist, "console.js"));
const gzipped = gzipSync(body, { level: 9 });
await writeFile(join(dist, "console.js.gz"), gzipped);
console.log(`agent_console/dist/console.js: ${body.length} bytes, ${gzipped.length} gzipped`);
