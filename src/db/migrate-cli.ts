// npm run migrate [-- --check] [-- --env-file FILE]
//
// Applies the committed migrations (the service also applies them at start), or with --check
// says what would run and changes nothing: which migrations the database has, which this
// version would apply, and whether the database was used by a newer version (then this one must
// not run on it). Exit status 0 when the check could be made (pending migrations included),
// 1 on an error or a database newer than this code.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import dotenv from 'dotenv';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { ConfigError, loadConfig } from '../config.js';
import { MIGRATIONS_DIR, openDatabase } from './client.js';
import { backupSocketPath, pgliteDir, serviceAnswers } from './online-backup.js';

interface Known {
  tag: string;
  when: number;
  hash: string;
  statements: number;
}

interface Applied {
  hash: string;
  createdAt: number;
}

/** The migrations of this version, in order, as drizzle's migrator reads them. */
function knownMigrations(): Known[] {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string; when: number }> };
  const files = readMigrationFiles({ migrationsFolder: MIGRATIONS_DIR });
  return journal.entries.map((entry, i) => ({ tag: entry.tag, when: entry.when, hash: files[i]?.hash ?? '', statements: files[i]?.sql.length ?? 0 }));
}

/** What drizzle recorded in the database (drizzle.__drizzle_migrations); null: no database there yet. */
async function appliedMigrations(databaseUrl: string): Promise<Applied[] | null> {
  const dir = pgliteDir(databaseUrl);
  // --check never creates anything: an embedded database that is not there yet stays so.
  if (databaseUrl.startsWith('pglite://') && (!dir || !existsSync(join(dir, 'PG_VERSION')))) return null;
  const database = await openDatabase(databaseUrl, { poolSize: 1 });
  try {
    const { rows } = await database.executor.executeSql(`select to_regclass('drizzle.__drizzle_migrations') is not null as present`);
    if (!(rows[0] as { present: boolean } | undefined)?.present) return [];
    const result = await database.executor.executeSql('select hash, created_at from drizzle.__drizzle_migrations order by created_at, id');
    return (result.rows as Array<{ hash: string; created_at: string | number }>).map((r) => ({ hash: r.hash, createdAt: Number(r.created_at) }));
  } finally {
    await database.close();
  }
}

/** Prints the comparison; answers false when the database is newer than this code. */
function report(known: Known[], applied: Applied[] | null, where: string): boolean {
  const list = (ms: Known[]) => ms.map((m) => `  ${m.tag}  (${m.statements} statement${m.statements === 1 ? '' : 's'})`).join('\n');
  console.log(`Database: ${where}`);
  if (applied === null) {
    console.log(`No database there yet. All ${known.length} migrations would run:\n${list(known)}`);
    return true;
  }
  const byWhen = new Map(known.map((m) => [m.when, m]));
  const unknown = applied.filter((a) => !byWhen.has(a.createdAt));
  const changed = applied.filter((a) => byWhen.has(a.createdAt) && byWhen.get(a.createdAt)!.hash !== a.hash);
  const last = applied.at(-1)?.createdAt ?? -1;
  // drizzle's rule: a migration runs when it is newer than the newest one recorded.
  const pending = known.filter((m) => m.when > last);
  const newest = applied.length > 0 ? (byWhen.get(last)?.tag ?? `an unknown one of ${new Date(last).toISOString()}`) : 'none';
  console.log(`Applied: ${applied.length} migration${applied.length === 1 ? '' : 's'} (newest: ${newest}); this version knows ${known.length}.`);
  for (const c of changed) console.log(`Warning: ${byWhen.get(c.createdAt)!.tag} was changed after it was applied here (its hash differs).`);
  if (unknown.length > 0) {
    console.error(
      `The database has ${unknown.length} migration${unknown.length === 1 ? '' : 's'} this version does not know: a newer version of Laifang used it.\n` +
        'Do not run this version on it: install the newer version again, or restore the backup taken before the upgrade.',
    );
    return false;
  }
  if (pending.length === 0) console.log('Up to date: nothing would run.');
  else
    console.log(
      `Would apply ${pending.length} migration${pending.length === 1 ? '' : 's'}:\n${list(pending)}\nnpm run migrate applies them (the service also does at start).`,
    );
  return true;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, 'env-file': { type: 'string' } } });
  // Like the service under systemd: the EnvironmentFile first, then a .env, never over what is set.
  if (values['env-file']) {
    if (!existsSync(values['env-file'])) throw new Error(`--env-file ${values['env-file']}: no such file`);
    dotenv.config({ path: values['env-file'], quiet: true });
  }
  dotenv.config({ quiet: true });
  const config = loadConfig();
  const socket = backupSocketPath(config.databaseUrl);
  // Two processes must never open one PGlite directory: the running service holds it.
  if (socket && (await serviceAnswers(socket))) {
    throw new Error(
      `The service is running on ${pgliteDir(config.databaseUrl)} and holds the embedded database: stop it first (systemctl stop laifang). It applies the migrations itself when it starts.`,
    );
  }
  const where = config.databaseUrl.startsWith('pglite://')
    ? config.databaseUrl
    : `PostgreSQL ${new URL(config.databaseUrl).host}${new URL(config.databaseUrl).pathname}`;
  const known = knownMigrations();
  const applied = await appliedMigrations(config.databaseUrl);
  if (values.check) {
    if (!report(known, applied, where)) process.exitCode = 1;
    return;
  }
  if (applied && applied.some((a) => !known.some((m) => m.when === a.createdAt))) {
    report(known, applied, where);
    process.exitCode = 1;
    return;
  }
  const database = await openDatabase(config.databaseUrl);
  await database.migrate();
  await database.close();
  console.log('migrations applied');
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError || err instanceof Error ? err.message : err);
  process.exit(1);
});
