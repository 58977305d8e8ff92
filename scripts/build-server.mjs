#!/usr/bin/env node
// Compiles the service (src/ → dist/server/) with esbuild when the output is missing or older
// than its sources. `npm start` runs it first (prestart) and then plain `node dist/server/main.js`:
// no TypeScript transpiling at run time (issue "performance": a cold start to /readyz ≤ 3 s).
// When nothing changed it only compares file times.
//
//   node scripts/build-server.mjs [--force] [--out DIR]     (or LAIFANG_SERVER_OUT=DIR)
//
// The bundles hold src/ only; the dependencies stay in node_modules (packages external). Dynamic
// imports (the Aliyun and S3 SDKs, loaded on first use) stay lazy: they become chunks of their
// own (code splitting). The output directory sits two levels below the repository, as the
// modules of src/ that resolve paths from import.meta.url do (src/http/h5-pages.ts: the H5 pages
// at ../../web/dist/); src/db/migrations is copied next to the bundles (src/db/driver.ts:
// ./migrations). Every `new URL('…', import.meta.url)` in src/ is checked to resolve to the same
// place from the output, and the build fails when one does not.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { holdBuildLock } from './build-lock.mjs';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const { values: args } = parseArgs({ options: { force: { type: 'boolean', default: false }, out: { type: 'string' } } });
const out = resolve(root, args.out ?? process.env.LAIFANG_SERVER_OUT ?? 'dist/server');
const ENTRIES = { main: 'src/main.ts', 'admin-cli': 'src/admin-cli.ts', 'migrate-cli': 'src/db/migrate-cli.ts' };
/** Directories the bundles find relative to themselves: source → path inside the output. */
const COPIES = [{ from: join(src, 'db', 'migrations'), to: 'migrations' }];
const STAMP = join(out, '.build-stamp');
/** For messages: inside the repository relative to it, elsewhere in full. */
const show = (p) => (relative(root, p).startsWith('..') ? p : relative(root, p) || '.');
// The output is emptied before each build: never the repository or anything holding it.
if (!relative(out, root).startsWith('..') || !relative(out, src).startsWith('..')) {
  console.error(`Refusing to build into ${out}: it would be emptied first, and it holds the sources.`);
  process.exit(1);
}

/** The newest modification time under src/ (directories too: a deleted file changes its directory) and of what decides the dependencies. */
function newestSource() {
  let newest = 0;
  let newestFile = '';
  const consider = (path) => {
    const t = statSync(path).mtimeMs;
    if (t > newest) [newest, newestFile] = [t, path];
  };
  const visit = (dir) => {
    consider(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else consider(path);
    }
  };
  visit(src);
  for (const file of ['package-lock.json', 'scripts/build-server.mjs']) if (existsSync(join(root, file))) consider(join(root, file));
  return { newest, newestFile };
}

/** Every file of a copied directory is in the output. */
function copied(from, to) {
  return readdirSync(from, { withFileTypes: true }).every((e) =>
    e.isDirectory() ? copied(join(from, e.name), join(to, e.name)) : existsSync(join(to, e.name)),
  );
}

/** Built and complete: the stamp is written last, after the bundles and the copies. */
function fresh(newest) {
  const stamp = statSync(STAMP, { throwIfNoEntry: false });
  if (!stamp || stamp.mtimeMs < newest) return false;
  return Object.keys(ENTRIES).every((name) => existsSync(join(out, `${name}.js`))) && COPIES.every((c) => copied(c.from, join(out, c.to)));
}

const { newest, newestFile } = newestSource();
if (!args.force && fresh(newest)) {
  console.log(`Server is up to date (${show(out)}).`);
  process.exit(0);
}

// One build at a time (scripts/build-lock.mjs).
mkdirSync(dirname(out), { recursive: true });
const lock = `${out}.build-lock`;
await holdBuildLock(lock);
// The stamp gets this time: a source saved from now on (while esbuild reads) is newer than the
// stamp, and rebuilt next time.
const started = Date.now();
if (!args.force && fresh(newestSource().newest)) {
  console.log(`Server is up to date (${show(out)}; built by another process).`);
  process.exit(0);
}
console.log(
  args.force
    ? 'Building the server…'
    : `Building the server (${!existsSync(STAMP) ? `${show(out)} is missing` : statSync(STAMP).mtimeMs < newest ? `${relative(root, newestFile)} changed` : `${show(out)} is incomplete`})…`,
);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('Cannot build the server: esbuild is not installed (install the dev dependencies: npm ci), or run it with `npm run dev`.');
  process.exit(1);
}

/** Every `new URL('<literal>', import.meta.url)` in src/, recorded while bundling. */
const urlRefs = [];
const recordUrlRefs = {
  name: 'record-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (a) => {
      if (!a.path.startsWith(src)) return undefined;
      const text = readFileSync(a.path, 'utf8');
      for (const m of text.matchAll(/import\.meta\.(url|dirname|filename)/g)) {
        const line = text.slice(0, m.index).split('\n').length;
        const call = /new URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/.exec(text.slice(Math.max(0, m.index - 300), m.index + 20));
        urlRefs.push({ file: a.path, line, literal: call && m[1] === 'url' ? call[2] : null });
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
try {
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    outdir: out,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
    plugins: [recordUrlRefs],
  });
} catch (err) {
  rmSync(out, { recursive: true, force: true });
  console.error('Building the server failed:', err instanceof Error ? err.message : err);
  process.exit(1);
}
for (const c of COPIES) cpSync(c.from, join(out, c.to), { recursive: true });

// A path that resolves elsewhere from the bundle than from its source would break only at run
// time (pages answering 503, migrations not found): fail here instead.
const copiedTo = new Map(COPIES.map((c) => [c.from, join(out, c.to)]));
const problems = [];
for (const ref of urlRefs) {
  const where = `${relative(root, ref.file)}:${ref.line}`;
  if (ref.literal === null) {
    problems.push(`${where} uses import.meta in a way this build cannot check (only new URL('<literal>', import.meta.url) is)`);
    continue;
  }
  const fromSource = resolve(dirname(ref.file), ref.literal);
  const fromBundle = resolve(out, ref.literal);
  const expected = copiedTo.get(fromSource.replace(/[\\/]+$/, '')) ?? fromSource;
  if (fromBundle.replace(/[\\/]+$/, '') !== expected.replace(/[\\/]+$/, '')) {
    problems.push(`${where}: new URL('${ref.literal}', import.meta.url) is ${show(expected)} from the source but ${show(fromBundle)} from ${show(out)}/`);
  }
}
if (problems.length > 0) {
  rmSync(out, { recursive: true, force: true });
  console.error(`Building the server failed: paths relative to import.meta.url would differ in the bundle:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
utimesSync(STAMP, started / 1000, started / 1000);
console.log(`Server built in ${((Date.now() - started) / 1000).toFixed(1)} s (${show(out)}/).`);
