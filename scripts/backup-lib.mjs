// What `npm run backup` and `npm run restore` share: the configuration (the service's own, from
// the environment, a .env file or --env-file), the backup's layout and its manifest, and running
// the PostgreSQL client programs without putting a password on their command line.
// Runs under tsx (the npm scripts say `node --import tsx`): it reads src/config.ts itself, so a
// backup always finds the database and the files where the service does.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, loadConfig } from '../src/config.js';

export const MANIFEST = 'manifest.json';
export const FORMAT = 'laifang-backup';
export const FORMAT_VERSION = 1;
/** A finished backup's folder name; one still being written ends in `.partial`. */
export const BACKUP_NAME = /^laifang-\d{8}T\d{6}Z$/;

/** Prints the message and ends the process with status 1 (a configuration error names its variable). */
export function fail(err) {
  console.error(err instanceof ConfigError || !(err instanceof Error) ? String(err.message ?? err) : `error: ${err.message}`);
  process.exit(1);
}

/**
 * The service's configuration: `--env-file` first (the systemd EnvironmentFile, e.g.
 * /etc/laifang/laifang.env), then a .env in the working directory, never over variables already
 * set, exactly as the service would see them.
 */
export function serviceConfig(envFile) {
  if (envFile) {
    if (!existsSync(envFile)) fail(new Error(`--env-file ${envFile}: no such file`));
    dotenv.config({ path: envFile, quiet: true });
  }
  dotenv.config({ quiet: true });
  try {
    return loadConfig();
  } catch (err) {
    return fail(err);
  }
}

export function packageVersion() {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
}

/** The newest migration this code knows (src/db/migrations/meta/_journal.json). */
export function newestMigration() {
  const journal = JSON.parse(readFileSync(new URL('../src/db/migrations/meta/_journal.json', import.meta.url), 'utf8'));
  return journal.entries.at(-1)?.tag ?? null;
}

/** `20261204T153000Z`: sorts by time, and is a file name everywhere. */
export function timestamp(date = new Date()) {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function writeManifest(dir, manifest) {
  writeFileSync(join(dir, MANIFEST), `${JSON.stringify({ format: FORMAT, version: FORMAT_VERSION, ...manifest }, null, 2)}\n`, { mode: 0o600 });
}

export function readManifest(dir) {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) fail(new Error(`${dir} is not a Laifang backup (no ${MANIFEST}; a folder still named *.partial was never finished)`));
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  if (manifest.format !== FORMAT || manifest.version !== FORMAT_VERSION) {
    fail(new Error(`${path}: format ${manifest.format} version ${manifest.version}; this code reads ${FORMAT} version ${FORMAT_VERSION}`));
  }
  return manifest;
}

/**
 * A PostgreSQL URL for the client programs without its password, which goes in PGPASSWORD
 * instead: a command line is readable by every user of the machine (ps), the environment is not.
 */
export function pgClientTarget(databaseUrl) {
  const url = new URL(databaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  return { url: url.toString(), env: password ? { PGPASSWORD: password } : {}, display: `${url.host}${url.pathname}` };
}

/** Runs a program to its end; its output goes to ours. Rejects when it fails (its message printed above). */
export function run(program, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (err) => reject(err.code === 'ENOENT' ? new Error(`${program} is not installed (apt-get install postgresql-client)`) : err));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${program} exited with status ${code} (its message is above)`))));
  });
}

/** Number of files and bytes under a directory. */
export function treeSize(dir) {
  let files = 0;
  let bytes = 0;
  const visit = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.isFile()) {
        files++;
        bytes += statSync(path).size;
      }
    }
  };
  if (existsSync(dir)) visit(dir);
  return { files, bytes };
}

export function humanBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
}
