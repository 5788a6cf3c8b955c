// The compressed twins of the built text files, written next to each (name.gz and name.br): the
// server sends the one the browser accepts (chatserver/http/static.py), so nothing is compressed
// per request. Brotli at its best quality is a tenth to a third smaller than gzip on these files,
// and a build can afford its slowness.

import { readFile, writeFile } from "node:fs/promises";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

export const TEXT_SUFFIXES = [".js", ".css", ".html", ".json"];

export async function precompress(file) {
  const body = await readFile(file);
  const gzipped = gzipSync(body, { level: 9 });
  const brotli = brotliCompressSync(body, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
  await writeFile(`${file}.gz`, gzipped);
  await writeFile(`${file}.br`, brotli);
  return { bytes: body.length, gzip: gzipped.length, brotli: brotli.length };
}
