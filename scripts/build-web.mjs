#!/usr/bin/env node
// Builds the H5 pages (web/ → web/dist/) when the output is missing or older than its sources.
// `npm start` runs it first (prestart), so a fresh clone serves the pages; when nothing
// changed it only compares file times. `--force` (npm run build:web) always builds.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { holdBuildLock } from './build-lock.mjs';
import { firstPageJs } from './web-size.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const dist = join(web, 'dist');
const force = process.argv.includes('--force');

/** The newest modification time among the page sources, what they import from src/ and what decides the dependencies. */
function newestSource() {
  let newest = 0;
  let newestFile = '';
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (statSync(path).mtimeMs > newest) [newest, newestFile] = [statSync(path).mtimeMs, path];
    }
  };
  visit(web);
  // Outside web/: what decides the dependencies, this script, and the server modules the pages
  // import (the field limits: web/src/limits.ts).
  for (const file of ['package-lock.json', 'scripts/build-web.mjs', 'src/limits.ts']) {
    const path = join(root, file);
    if (existsSync(path) && statSync(path).mtimeMs > newest) [newest, newestFile] = [statSync(path).mtimeMs, path];
  }
  return { newest, newestFile };
}

// One build at a time (scripts/build-lock.mjs).
const lock = join(web, '.build-lock');
await holdBuildLock(lock);

const index = join(dist, 'index.html');
// The admin console, built second (the first build empties dist/): served at /admin/.
const adminIndex = join(dist, 'admin', 'admin.html');
const { newest, newestFile } = newestSource();
if (!force && existsSync(index) && statSync(index).mtimeMs >= newest && existsSync(adminIndex)) {
  console.log('H5 pages are up to date (web/dist).');
  process.exit(0);
}
console.log(
  force ? 'Building the H5 pages…' : `Building the H5 pages (${existsSync(index) ? `${relative(root, newestFile)} changed` : 'web/dist is missing'})…`,
);

let vite;
try {
  vite = await import('vite');
} catch {
  // A production install without dev dependencies: the API still runs; /h5/ says how to build.
  console.warn('Cannot build the H5 pages: vite is not installed (install the dev dependencies). /h5/ will answer 503 until they are built.');
  process.exit(force ? 1 : 0);
}

const started = Date.now();
try {
  await vite.build({ configFile: join(web, 'vite.config.ts'), logLevel: 'warn' });
  await vite.build({ configFile: join(web, 'vite.config.ts'), mode: 'admin', logLevel: 'warn' });
} catch (err) {
  console.error('Building the H5 pages failed:', err instanceof Error ? err.message : err);
  process.exit(1);
}
const size = firstPageJs(dist);
console.log(
  `H5 pages built in ${((Date.now() - started) / 1000).toFixed(1)} s: entry JS ${(size.gzipBytes / 1024).toFixed(1)} kB gzipped (${size.files.length} files).`,
);
