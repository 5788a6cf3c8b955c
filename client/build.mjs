// Builds the widget into client/dist/ (git-ignored; `make install` runs it through `npm run build`):
//   widget.js                   the loader a shop's script tag points at (IIFE, small)
//   widget/ui-<hash>.js         the chat panel (ES module, fetched when needed)
//   widget/socket.io-<hash>.js  socket.io-client (ES module, fetched with the panel)
//   widget/proactive-<hash>.js  the proactive message's watcher and bubble (fetched when not in a chat)
//   widget/recorder-<hash>.js   the co-browse recorder (rrweb; fetched when a shopper shares)
//   demo/                       the demo shop's pages (client/demo/), copied
// Every file also gets .gz and .br twins (scripts/precompress.mjs), which the server sends to
// browsers that accept them.

import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { precompress, TEXT_SUFFIXES } from "../scripts/precompress.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");
const common = { bundle: true, minify: true, target: "es2022", platform: "browser", legalComments: "eof", logLevel: "warning" };

await rm(dist, { recursive: true, force: true });
await mkdir(join(dist, "widget"), { recursive: true });

const chunkPath = (built, entry) => {
  const [output] = Object.entries(built.metafile.outputs).find(([, meta]) => meta.entryPoint?.endsWith(entry));
  return `widget/${basename(output)}`;
};
// The co-browse recorder (rrweb), fetched by the panel only when a shopper agrees to share.
const recorder = await esbuild.build({
  ...common,
  entryPoints: { recorder: join(src, "cobrowse", "recorder.js") },
  format: "esm",
  outdir: join(dist, "widget"),
  entryNames: "[name]-[hash]",
  metafile: true,
});
const chunks = await esbuild.build({
  ...common,
  entryPoints: { ui: join(src, "ui", "main.js"), "socket.io": join(src, "socketio.js"),
    proactive: join(src, "proactive", "watch.js") },
  format: "esm",
  outdir: join(dist, "widget"),
  entryNames: "[name]-[hash]",
  metafile: true,
  define: { __CHATSERVER_RECORDER__: JSON.stringify(chunkPath(recorder, "cobrowse/recorder.js")) },
});

await esbuild.build({
  ...common,
  entryPoints: [join(src, "loader.js")],
  format: "iife",
  outfile: join(dist, "widget.js"),
  define: {
    __CHATSERVER_UI__: JSON.stringify(chunkPath(chunks, "ui/main.js")),
    __CHATSERVER_SOCKET__: JSON.stringify(chunkPath(chunks, "socketio.js")),
    __CHATSERVER_PROACTIVE__: JSON.stringify(chunkPath(chunks, "proactive/watch.js")),
  },
});

await cp(join(here, "demo"), join(dist, "demo"), { recursive: true });

const sizes = {};
for (const file of await files(dist)) {
  const size = await precompress(file);
  // The widget's own budget (tests/e2e/test_widget_assets.py): its scripts, not the demo's pages.
  if (file.endsWith(".js")) sizes[relative(dist, file)] = { bytes: size.bytes, gzip: size.gzip };
}
await writeFile(join(dist, "sizes.json"), `${JSON.stringify(sizes, null, 2)}\n`);
for (const [name, size] of Object.entries(sizes)) {
  console.log(`client/dist/${name}: ${size.bytes} bytes, ${size.gzip} gzipped`);
}

async function files(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await files(path)));
    else if (TEXT_SUFFIXES.includes(extname(entry.name))) found.push(path);
  }
  return found;
}
