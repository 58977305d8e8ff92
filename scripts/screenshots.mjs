#!/usr/bin/env node
// Screenshots of the main H5 pages (375×667, Chinese) and the admin console (each page at 1280×800
// and 768×1024) for the
// README: runs the browser tests, which save a picture at each step when LAIFANG_SCREENSHOTS
// names a directory.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const run = spawnSync(
  'npx',
  ['vitest', 'run', 'test/e2e/h5.test.ts', 'test/e2e/h5-fixes.test.ts', 'test/e2e/admin.test.ts', 'test/e2e/admin-pages.test.ts', '--project', 'pglite'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, LAIFANG_SCREENSHOTS: out },
  },
);
if (run.status === 0) console.log(`Screenshots written to ${out}`);
process.exit(run.status ?? 1);
