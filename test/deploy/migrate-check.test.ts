import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { startBackupSocket } from '../../src/db/online-backup.js';
import { openTestDatabase, testDbKind, testLogger } from '../helpers/harness.js';
import { ROOT } from './helpers.js';

/**
 * `npm run migrate -- --check` (src/db/migrate-cli.ts), the upgrade's first step: what would
 * run, changing nothing; a database that a newer version used is refused; and on the embedded
 * database, nothing while a service holds it.
 */

const TAGS = (JSON.parse(readFileSync(join(ROOT, 'src/db/migrations/meta/_journal.json'), 'utf8')).entries as Array<{ tag: string }>).map((e) => e.tag);
const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

function migrate(databaseUrl: string, ...args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '-s', 'migrate', '--', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', fail);
    child.once('exit', (status) => done({ status, out }));
  });
}

/** A migrated database of this test's kind, changed by `change` (SQL), then closed: PGlite is one process at a time. */
async function migratedDatabase(change?: string): Promise<string> {
  const pgliteDir = mkdtempSync(join(tmpdir(), 'laifang-migrate-'));
  const db = await openTestDatabase({ pgliteDir });
  if (change) await db.database.executor.executeSql(change);
  await db.database.close();
  cleanup.push(async () => {
    await db.drop();
    rmSync(pgliteDir, { recursive: true, force: true });
  });
  return db.url;
}

describe('npm run migrate -- --check', { timeout: 120_000 }, () => {
  it('on an up-to-date database: nothing would run', async () => {
    const url = await migratedDatabase();
    const res = await migrate(url, '--check');
    expect(res.status, res.out).toBe(0);
    expect(res.out).toContain(`Applied: ${TAGS.length} migrations (newest: ${TAGS.at(-1)})`);
    expect(res.out).toContain('Up to date: nothing would run.');
  });

  it('on the database of the previous version: names the migration that would run, and changes nothing', async () => {
    const url = await migratedDatabase(
      'delete from drizzle.__drizzle_migrations where created_at = (select max(created_at) from drizzle.__drizzle_migrations)',
    );
    const wouldRun = new RegExp(`Would apply 1 migration:\\n  ${TAGS.at(-1)}  \\(\\d+ statements?\\)`);
    const res = await migrate(url, '--check');
    expect(res.status, res.out).toBe(0);
    expect(res.out).toContain(`newest: ${TAGS.at(-2)}`);
    expect(res.out).toMatch(wouldRun);
    // Nothing was applied: asked again, the answer is the same.
    expect((await migrate(url, '--check')).out).toMatch(wouldRun);
  });

  it('refuses a database a newer version used, and so does npm run migrate', async () => {
    const url = await migratedDatabase(
      `insert into drizzle.__drizzle_migrations (hash, created_at) values ('from-a-newer-version', ${Date.now() + 86_400_000})`,
    );
    const check = await migrate(url, '--check');
    expect(check.status).toBe(1);
    expect(check.out).toContain('has 1 migration this version does not know: a newer version of Laifang used it');
    const apply = await migrate(url);
    expect(apply.status).toBe(1);
    expect(apply.out).toContain('a newer version of Laifang used it');
    expect(apply.out).not.toContain('migrations applied');
  });

  it.runIf(testDbKind() === 'pg')('on an empty PostgreSQL database: every migration would run', async () => {
    const base = process.env.TEST_DATABASE_URL!;
    const name = `laifang_check_${process.pid}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
    cleanup.push(async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    const url = new URL(base);
    url.pathname = `/${name}`;
    const res = await migrate(url.toString(), '--check');
    expect(res.status, res.out).toBe(0);
    expect(res.out).toContain(`Applied: 0 migrations (newest: none)`);
    expect(res.out).toContain(`Would apply ${TAGS.length} migrations:`);
    for (const tag of TAGS) expect(res.out).toContain(`  ${tag}  (`);
  });

  it.runIf(testDbKind() === 'pglite')('on an embedded database not created yet: every migration would run; nothing is created', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'laifang-migrate-none-')), 'db');
    cleanup.push(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
    const res = await migrate(`pglite://${dir}`, '--check');
    expect(res.status, res.out).toBe(0);
    expect(res.out).toContain(`No database there yet. All ${TAGS.length} migrations would run:`);
    for (const tag of TAGS) expect(res.out).toContain(`  ${tag}  (`);
    expect(existsSync(dir)).toBe(false);
  });

  it.runIf(testDbKind() === 'pglite')('touches no embedded database a running service holds', async () => {
    const url = await migratedDatabase();
    // What the service does at start: open the directory and answer on its backup socket.
    const database = await openDatabase(url);
    const socket = await startBackupSocket({ database, databaseUrl: url, logger: testLogger('info') });
    try {
      expect(socket.path).toBe(`${url.slice('pglite://'.length)}.backup.sock`);
      for (const args of [['--check'], []]) {
        const res = await migrate(url, ...args);
        expect(res.status).toBe(1);
        expect(res.out).toContain('The service is running on');
        expect(res.out).toContain('stop it first');
      }
    } finally {
      await socket.close();
      await database.close();
    }
    expect((await migrate(url, '--check')).status).toBe(0);
  });
});
