import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { openDatabase } from '../../src/db/client.js';
import { futureWindow, openTestDatabase, STAFF, testDbKind, type Sims } from '../helpers/harness.js';
import { fetchPost, oauthSignIn } from '../helpers/oauth.js';
import { call, freePort, ServiceProcess, serviceEnv, waitUntil } from '../helpers/service-process.js';
import { program, ROOT } from './helpers.js';

/**
 * `npm run backup` of a running service under load, and `npm run restore` into a fresh
 * database and storage folder (README "Deploying"), on the project's database:
 * - backup A is taken while three clients keep applying: its copy holds every application
 *   acknowledged before it began, none that was never acknowledged, each with all its
 *   notifications, each notification in a state the service really had (pending or sent);
 * - backup B is taken once everything is sent (the service still running): its copy is the
 *   service's database exactly (every application, every notification's state), the landed
 *   files too, and a service started on it serves them.
 */

const LOAD_CLIENTS = 3;
/** Bounds of the load: this many applications at most, for this long at most. */
const LOAD_MAX = 300;
const LOAD_MS = 90_000;

interface State {
  applications: number[];
  notifications: Array<{ id: number; app: number; channel: string; phone: string; status: string; attempts: number; ref: string }>;
  landed: string[];
}

/** Everything a backup must carry, read from a database no service holds. */
async function readState(url: string): Promise<State> {
  const database = await openDatabase(url, { poolSize: 1 });
  try {
    const rows = async <T>(text: string) => (await database.executor.executeSql(text)).rows as T[];
    return {
      applications: (await rows<{ id: number }>('select id::int as id from applications order by id')).map((r) => r.id),
      notifications: await rows(
        `select id::int as id, application_id::int as app, channel, phone, status, attempts::int as attempts, coalesce(provider_ref, '') as ref from notifications order by id`,
      ),
      landed: (await rows<{ key: string }>('select storage_key as key from landed_files order by storage_key')).map((r) => r.key),
    };
  } finally {
    await database.close();
  }
}

function npm(script: 'backup' | 'restore', args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '-s', script, '--', ...args], { cwd: ROOT, env: { ...env, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', fail);
    child.once('exit', (status) => (status === 0 ? done(out) : fail(new Error(`npm run ${script} exited ${status}:\n${out}`))));
  });
}

/** A fresh, empty place to restore into: a directory that does not exist yet, or a new PostgreSQL database. */
async function freshTarget(cleanup: Array<() => Promise<void> | void>): Promise<{ url: string; files: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'laifang-restore-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const files = join(dir, 'files');
  if (testDbKind() === 'pglite') return { url: `pglite://${join(dir, 'db')}`, files };
  const base = process.env.TEST_DATABASE_URL!;
  const name = `laifang_restore_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  cleanup.push(async () => {
    const a = new pg.Client({ connectionString: base });
    await a.connect();
    await a.query(`drop database if exists ${name} with (force)`);
    await a.end();
  });
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { url: url.toString(), files };
}

/**
 * Three clients applying as the host, each visitor bound in WeChat (one SMS and one WeChat
 * message each), until stopped or the bounds are reached.
 */
function startLoad(url: string, token: string, sims: Sims) {
  const acked: number[] = [];
  const failures: string[] = [];
  let stopped = false;
  let next = 0;
  const started = Date.now();
  const done = () => stopped || next >= LOAD_MAX || Date.now() - started >= LOAD_MS;
  const client = async () => {
    while (!done()) {
      const phone = `1391${String(next++).padStart(7, '0')}`;
      sims.cloud.bind(`wx-visitor-${phone}`, phone);
      const res = await call(url, 'POST', '/v1/subject', {
        token,
        body: { name: '访客', phone, interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
      });
      if (res.status === 200) acked.push(res.body.data.id as number);
      else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
    }
  };
  const running = Promise.all(Array.from({ length: LOAD_CLIENTS }, client));
  return {
    acked,
    failures,
    done,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

/** PostgreSQL backups need pg_dump and pg_restore (postgresql-client). */
const pgTools = testDbKind() === 'pg' ? [program('pg_dump'), program('pg_restore')].find((p) => p.state !== 'present') : undefined;

describe.runIf(pgTools?.state === 'missing-fail')('backup of PostgreSQL', () => {
  it('needs pg_dump and pg_restore in CI', () => {
    expect(pgTools?.state, 'CI must install postgresql-client (scripts/ci-deploy-prereqs.sh)').toBe('present');
  });
});

describe.runIf(pgTools === undefined)('backup of a running service under load, and restore', { timeout: 300_000 }, () => {
  let sims: Sims;
  let service: ServiceProcess;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let avatarPath: string;
  const cleanup: Array<() => Promise<void> | void> = [];
  const backups = mkdtempSync(join(tmpdir(), 'laifang-backups-'));
  cleanup.push(() => rmSync(backups, { recursive: true, force: true }));

  beforeAll(async () => {
    const [koala, cloud, oauth, sms] = await Promise.all([
      startKoalaSimulator(),
      startWechatCloudSimulator(),
      startWechatOAuthSimulator(),
      startAliyunSmsSimulator({ limits: null }),
    ]);
    sims = { koala, cloud, oauth, sms };
    cleanup.push(() => Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]).then(() => undefined));
    const storageDir = mkdtempSync(join(tmpdir(), 'laifang-backup-files-'));
    const pgliteDir = mkdtempSync(join(tmpdir(), 'laifang-backup-db-'));
    const db = await openTestDatabase({ pgliteDir });
    await db.database.close();
    cleanup.push(async () => {
      await db.drop();
      rmSync(pgliteDir, { recursive: true, force: true });
      rmSync(storageDir, { recursive: true, force: true });
    });
    const port = await freePort();
    // The notification lease as deployed (60 s). The copy holds every query for its length (1–3 s
    // on this box): a lease shorter than that (the fault tests' 5 s) lets a message whose outcome
    // waited behind it be claimed and sent again (ADR 0008).
    env = serviceEnv({ port, databaseUrl: db.url, sims, storageDir, extra: { NOTIFY_EXPIRE_S: '60' } });
    service = new ServiceProcess(port, () => env);
    await service.start();
    cloud.bind('wx-backup-host', STAFF.zhangwei.phone);
    const session = await oauthSignIn(fetchPost(service.url), oauth, 'wx-backup-host');
    token = session.body.data.token;
    // The host's profile lands his Koala avatar in the storage folder.
    const profile = await call(service.url, 'GET', '/v1/subject/binding', { token });
    avatarPath = new URL(profile.body.data.avatar).pathname;
    expect(avatarPath).toMatch(/^\/files\//);
  }, 180_000);

  afterAll(async () => {
    await service?.stop();
    for (const c of cleanup.reverse()) await c();
  });

  /** Filled by the first test, read by the others. */
  let acked: number[] = [];
  let before = new Set<number>();
  let original: State;
  let backupA = '';
  let backupB = '';
  const restoreInto = async (backup: string) => {
    const target = await freshTarget(cleanup);
    const out = await npm('restore', [backup], { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: target.url, STORAGE_LOCAL_DIR: target.files });
    return { ...target, out };
  };

  it('backs up while three clients keep applying, and again once everything is sent', async () => {
    const load = startLoad(service.url, token, sims);
    acked = load.acked;
    await waitUntil(() => acked.length >= 10, '10 applications acknowledged', 60_000);
    before = new Set(acked);
    const outA = await npm('backup', ['--out', backups], env);
    console.log(`backup under load:\n${outA}`);
    const duringBackup = acked.length - before.size;
    const afterA = acked.length;
    await waitUntil(() => acked.length >= afterA + 5 || load.done(), 'more applications after the backup', 60_000);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(duringBackup, 'the load went on while the backup ran').toBeGreaterThan(0);

    // Everything sent (one SMS and one WeChat message a visitor), then backup B, the service still up.
    const visitorSms = () => sims.sms.messages().filter((m) => m.phone.startsWith('1391')).length;
    const counts = () => `${acked.length} applications, ${visitorSms()} SMS, ${sims.cloud.messages().length} WeChat messages`;
    await waitUntil(() => visitorSms() === acked.length && sims.cloud.messages().length === acked.length, 'every message sent', 120_000).catch((err: Error) => {
      throw new Error(`${err.message} (${counts()})`);
    });
    const outB = await npm('backup', ['--out', backups, '--keep', '2'], env);
    await service.stop();
    original = await readState(String(env.DATABASE_URL));
    expect(original.applications.sort((a, b) => a - b)).toEqual([...acked].sort((a, b) => a - b));
    expect(original.notifications.every((n) => n.status === 'sent')).toBe(true);
    const written = (out: string) => /Backup written: (.+)$/m.exec(out)![1]!;
    backupA = written(outA);
    backupB = written(outB);
  });

  it('the backup taken under load holds every acknowledged application, each notification as it was', async () => {
    const a = await readState((await restoreInto(backupA)).url);
    const restored = new Set(a.applications);
    expect(
      [...before].filter((id) => !restored.has(id)),
      'acknowledged before the backup, missing from it',
    ).toEqual([]);
    expect(
      a.applications.filter((id) => !original.applications.includes(id)),
      'never acknowledged, yet restored',
    ).toEqual([]);
    const ids = (state: State, app: number) => state.notifications.filter((n) => n.app === app).map((n) => n.id);
    for (const app of a.applications) expect(ids(a, app), `application ${app}'s notifications`).toEqual(ids(original, app));
    const now = new Map(original.notifications.map((n) => [n.id, n]));
    for (const n of a.notifications) {
      const later = now.get(n.id)!;
      expect({ ...n, status: later.status, attempts: later.attempts, ref: later.ref }).toEqual(later);
      // Sent then is sent for good; anything else was still waiting in the outbox.
      if (n.status === 'sent') expect(n).toEqual(later);
      else expect(n.status, `notification ${n.id}`).toBe('pending');
    }
    expect(a.landed).toEqual(original.landed);
  });

  it('the backup taken at rest is the database exactly, with the files; a service started on it serves them', async () => {
    const target = await restoreInto(backupB);
    expect(target.out).toContain(`${acked.length} applications, notifications {"sent":${2 * acked.length}}`);
    expect(await readState(target.url)).toEqual(original);
    const port = await freePort();
    const restored = new ServiceProcess(port, () => ({ ...env, PORT: String(port), DATABASE_URL: target.url, STORAGE_LOCAL_DIR: target.files }));
    await restored.start();
    try {
      const mine = await call(restored.url, 'GET', '/v1/auth/records?size=100', { token });
      expect(mine.status).toBe(200);
      expect(mine.body.page.count).toBe(acked.length);
      const avatar = await fetch(`${restored.url}${avatarPath}`);
      expect(avatar.status).toBe(200);
      const landed = readFileSync(join(String(env.STORAGE_LOCAL_DIR), avatarPath.slice('/files/'.length)));
      expect(Buffer.from(await avatar.arrayBuffer()).equals(landed)).toBe(true);
    } finally {
      await restored.stop();
    }
  });
});
