#!/usr/bin/env node
// npm run backup -- [--out DIR] [--keep N] [--env-file FILE] [--offline]
//
// A backup of everything the service holds, taken while it runs (README "Deploying", ADR 0008):
//   DIR/laifang-<UTC time>/
//     manifest.json        what is in it, from which version
//     database.tar.gz      the embedded database (PGlite): a copy made by the running service
//     database.pgdump      or PostgreSQL: pg_dump --format=custom (one consistent snapshot)
//     files/               the landed avatars (STORAGE_DRIVER=local; an S3 bucket is backed up by its own means)
// It is written as `<name>.partial` and renamed when complete, so a folder with the final name
// is always whole. --keep N then deletes all but the N newest complete backups in DIR.
// --offline: the service is stopped (it will not start, say); the embedded database is then
// opened and copied here. Never while it runs: two processes on one PGlite directory corrupt it.
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backupSocketPath, NoServiceError, pgliteDir, serviceAnswers, takeOnlineBackup } from '../src/db/online-backup.js';
import {
  BACKUP_NAME,
  fail,
  humanBytes,
  newestMigration,
  packageVersion,
  pgClientTarget,
  run,
  serviceConfig,
  timestamp,
  treeSize,
  writeManifest,
} from './backup-lib.mjs';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'backups' },
    keep: { type: 'string' },
    'env-file': { type: 'string' },
    offline: { type: 'boolean', default: false },
  },
});
const keep = args.keep === undefined ? null : Number(args.keep);
if (keep !== null && !(Number.isInteger(keep) && keep >= 1)) fail(new Error('--keep must be a whole number of at least 1'));
const config = serviceConfig(args['env-file']);
// A backup holds every visitor's name and phone: readable by its owner only.
process.umask(0o077);

/** The embedded database, copied by the service that holds it (or, --offline, by us). */
async function backupPglite(dir) {
  const socket = backupSocketPath(config.databaseUrl);
  const file = join(dir, 'database.tar.gz');
  if (args.offline) {
    if (await serviceAnswers(socket)) throw new Error(`--offline, but a service is running on ${pgliteDir(config.databaseUrl)}: leave out --offline`);
    const source = pgliteDir(config.databaseUrl);
    if (!existsSync(join(source, 'PG_VERSION'))) throw new Error(`${source} holds no database`);
    const { PGlite } = await import('@electric-sql/pglite');
    const db = new PGlite(source);
    await db.waitReady;
    const blob = await db.dumpDataDir('gzip');
    await db.close();
    writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
    return { kind: 'pglite', file: 'database.tar.gz', bytes: statSync(file).size, online: false };
  }
  try {
    const taken = await takeOnlineBackup(socket, file);
    console.log(`database: copied by the running service in ${taken.tookMs} ms, requests held for ${taken.lockedMs} ms (${humanBytes(taken.bytes)})`);
    return { kind: 'pglite', file: 'database.tar.gz', bytes: taken.bytes, online: true };
  } catch (err) {
    if (!(err instanceof NoServiceError)) throw err;
    throw new Error(
      `${err.message}.\nThe embedded database is copied by the service that holds it: start it (systemctl start laifang) and run the backup again,\nor, only while it is stopped, add --offline.`,
    );
  }
}

/** PostgreSQL: pg_dump's custom format (one snapshot; restored with pg_restore). */
async function backupPostgres(dir) {
  const target = pgClientTarget(config.databaseUrl);
  const file = join(dir, 'database.pgdump');
  await run('pg_dump', ['--format=custom', '--lock-wait-timeout=60000', `--file=${file}`, `--dbname=${target.url}`], target.env);
  const bytes = statSync(file).size;
  console.log(`database: pg_dump of ${target.display} (${humanBytes(bytes)})`);
  return { kind: 'postgres', file: 'database.pgdump', bytes, source: target.display };
}

/**
 * The landed files, after the database: every file a row of the copy names was written (and
 * renamed into place) before that row, so it is there. Half-written `*.tmp` files are left out.
 */
function backupFiles(dir) {
  if (config.storage.driver !== 'local') {
    console.log(`files: in the S3 bucket ${config.storage.bucket}; back it up with the bucket's versioning or replication`);
    return { driver: 's3', bucket: config.storage.bucket };
  }
  const source = resolve(config.storage.dir);
  const target = join(dir, 'files');
  mkdirSync(target);
  if (existsSync(source)) cpSync(source, target, { recursive: true, filter: (path) => !path.endsWith('.tmp') });
  const size = treeSize(target);
  console.log(`files: ${size.files} landed files from ${source} (${humanBytes(size.bytes)})`);
  return { driver: 'local', dir: 'files', ...size };
}

/** Deletes all but the `keep` newest complete backups in `out`. */
function prune(out) {
  if (keep === null) return;
  const all = readdirSync(out)
    .filter((name) => BACKUP_NAME.test(name))
    .sort();
  for (const name of all.slice(0, Math.max(0, all.length - keep))) {
    rmSync(join(out, name), { recursive: true, force: true });
    console.log(`removed the old backup ${name} (--keep ${keep})`);
  }
}

async function main() {
  if (config.databaseUrl.startsWith('pglite://') && !pgliteDir(config.databaseUrl))
    throw new Error('DATABASE_URL is an in-memory database: nothing to back up');
  const out = resolve(args.out);
  const name = `laifang-${timestamp()}`;
  const partial = join(out, `${name}.partial`);
  const final = join(out, name);
  if (existsSync(final) || existsSync(partial)) throw new Error(`${final} exists already: one backup a second at most`);
  mkdirSync(partial, { recursive: true });
  try {
    const started = new Date();
    const database = config.databaseUrl.startsWith('pglite://') ? await backupPglite(partial) : await backupPostgres(partial);
    const files = backupFiles(partial);
    writeManifest(partial, {
      created_at: started.toISOString(),
      laifang_version: packageVersion(),
      newest_migration_known: newestMigration(),
      database,
      files,
    });
    renameSync(partial, final);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
  prune(out);
  console.log(`Backup written: ${final}`);
}

main().catch(fail);
