#!/usr/bin/env node
// npm run restore -- <backup folder> [--env-file FILE]
//
// Restores a backup of `npm run backup` into the database and storage the configuration names
// (DATABASE_URL, STORAGE_LOCAL_DIR: the service's own environment, or --env-file), with the
// service stopped. It only fills what is new: an embedded database directory that does not
// exist yet (or is empty), or a PostgreSQL database without tables (createdb first). Move the
// old one aside yourself; nothing is ever overwritten. The landed files are copied into the
// storage folder beside what is there. Then start the service: it applies any newer
// migrations, and the notifications that were pending at the backup's time are sent.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { backupSocketPath, pgliteDir, serviceAnswers } from '../src/db/online-backup.js';
import { fail, humanBytes, pgClientTarget, readManifest, run, serviceConfig, treeSize } from './backup-lib.mjs';

const { values: args, positionals } = parseArgs({ options: { 'env-file': { type: 'string' } }, allowPositionals: true });
if (positionals.length !== 1) fail(new Error('usage: npm run restore -- <backup folder> [--env-file FILE]'));
const from = resolve(positionals[0]);
const manifest = readManifest(from);
const config = serviceConfig(args['env-file']);
process.umask(0o077);

const COUNTS = `select (select count(*) from applications)::int as applications,
  coalesce((select json_object_agg(status, n) from (select status, count(*)::int as n from notifications group by status) s), '{}'::json) as notifications`;

/** Into a new embedded database directory: PGlite loads the tarball as its data directory. */
async function restorePglite() {
  const dir = pgliteDir(config.databaseUrl);
  if (!dir) throw new Error('DATABASE_URL is an in-memory database: restore into a directory (pglite://./data/db)');
  if (await serviceAnswers(backupSocketPath(config.databaseUrl))) throw new Error(`the service is running on ${dir}: stop it first (systemctl stop laifang)`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`${dir} holds a database already. Move it aside first (mv ${dir} ${dir}.before-restore) and run this again.`);
  }
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite(dir, { loadDataDir: new Blob([readFileSync(join(from, manifest.database.file))]) });
  await db.waitReady;
  const { rows } = await db.query(COUNTS);
  await db.close();
  return { target: dir, ...rows[0] };
}

/** Into an empty PostgreSQL database, in one transaction: all of it or nothing. */
async function restorePostgres() {
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select count(*)::int as n from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')`,
    );
    const target = pgClientTarget(config.databaseUrl);
    if (rows[0].n > 0) throw new Error(`${target.display} has tables already: restore into a new, empty database (createdb -O laifang laifang_restored)`);
    await run(
      'pg_restore',
      ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${target.url}`, join(from, manifest.database.file)],
      target.env,
    );
    const counts = await client.query(COUNTS);
    return { target: target.display, ...counts.rows[0] };
  } finally {
    await client.end();
  }
}

/** The landed files, beside whatever the storage folder holds (their names are keyed hashes of their content's source). */
function restoreFiles() {
  const source = join(from, 'files');
  if (manifest.files?.driver !== 'local' || !existsSync(source)) return 'files: none in the backup (S3 storage)';
  if (config.storage.driver !== 'local')
    return `files: ${manifest.files.files} landed files in ${source} NOT restored: STORAGE_DRIVER is s3 (copy them into the bucket)`;
  const target = resolve(config.storage.dir);
  mkdirSync(target, { recursive: true });
  cpSync(source, target, { recursive: true, force: false, errorOnExist: false });
  const size = treeSize(source);
  return `files: ${size.files} landed files (${humanBytes(size.bytes)}) into ${target}`;
}

async function main() {
  const wanted = config.databaseUrl.startsWith('pglite://') ? 'pglite' : 'postgres';
  if (manifest.database.kind !== wanted) {
    throw new Error(
      `the backup holds a ${manifest.database.kind} database, DATABASE_URL names a ${wanted} one: restore a PGlite backup into pglite://…, a PostgreSQL one into postgres://…`,
    );
  }
  console.log(`Restoring ${from} (taken ${manifest.created_at} by Laifang ${manifest.laifang_version})`);
  const result = wanted === 'pglite' ? await restorePglite() : await restorePostgres();
  console.log(`database: ${result.target}: ${result.applications} applications, notifications ${JSON.stringify(result.notifications)}`);
  console.log(restoreFiles());
  console.log('Restored. Start the service (systemctl start laifang): it applies newer migrations and sends what was pending at the backup.');
}

main().catch(fail);
