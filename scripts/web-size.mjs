// The JavaScript that index.html of the H5 pages loads before any page chunk: its module entry
// and the chunks Vite tells the browser to preload. Gzipped, as a phone downloads it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export function firstPageJs(dist) {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/h5\/([^"]+\.js)"/g)].map((m) => m[1]);
  let gzipBytes = 0;
  for (const f of files) gzipBytes += gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  return { files, gzipBytes };
}
