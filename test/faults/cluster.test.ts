import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { loadConfig } from '../../src/config.js';
import { futureWindow, openTestDatabase, testDbKind, type Sims } from '../helpers/harness.js';
import { call, freePort, serviceEnv, ServiceProcess, waitUntil } from '../helpers/service-process.js';
import { makeActors, type Actors } from '../helpers/visit-load.js';

/**
 * WEB_CONCURRENCY=2 (issue 5): one primary process and two workers sharing the port. Each
 * worker keeps its own record-page cache; a change made through one must reach pages the other
 * holds, a dead worker is replaced, and SIGTERM stops them all. PostgreSQL project only.
 */
const skip = testDbKind() !== 'pg';

let sims: Sims;
let service: ServiceProcess;
let drop: () => Promise<void>;
let closeDb: () => Promise<void>;
let storage: string;
let actors: Actors;

/** The primary's workers (Linux: /proc/<pid>/task/<pid>/children). */
function workers(): number[] {
  const pid = service.pid;
  if (!pid) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A request on a connection of its own, so that the primary hands it to the next worker. */
const fresh = (path: string, token: string) => call(service.url, 'GET', path, { token, headers: { connection: 'close' } });

beforeAll(async () => {
  if (skip) return;
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ limits: null, verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'] }),
  ]);
  sims = { koala, cloud, oauth, sms };
  storage = mkdtempSync(join(tmpdir(), 'laifang-cluster-files-'));
  const db = await openTestDatabase();
  drop = db.drop;
  closeDb = () => db.database.close();
  const port = await freePort();
  service = new ServiceProcess(port, () => serviceEnv({ port, databaseUrl: db.url, sims, storageDir: storage, extra: { WEB_CONCURRENCY: '2' } }));
  await service.start();
  await waitUntil(() => workers().length === 2, 'two workers', 60_000);
  actors = await makeActors(service.url, sims, 'cluster');
}, 180_000);

afterAll(async () => {
  if (skip) return;
  await service?.stop(30_000);
  await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
  await closeDb?.();
  await drop?.();
  if (storage) rmSync(storage, { recursive: true, force: true });
});

describe('WEB_CONCURRENCY configuration', () => {
  it('is refused above 1 with the embedded database or the simulators, with a reason', () => {
    expect(() => loadConfig({ WEB_CONCURRENCY: '2' })).toThrow(/WEB_CONCURRENCY above 1 needs PostgreSQL/);
    expect(() => loadConfig({ WEB_CONCURRENCY: 'lots' })).toThrow(/WEB_CONCURRENCY="lots" must be auto or a whole number/);
    expect(loadConfig({ WEB_CONCURRENCY: '1' }).webConcurrency).toBe(1);
    expect(loadConfig({}).webConcurrency).toBe(1);
  });
});

describe.skipIf(skip)('two worker processes on one port (postgres project only)', () => {
  it("a record made through one worker is on the other worker's cached pages", async () => {
    const host = actors.hosts[0]!;
    const visitor = actors.visitors[0]!;
    // Both workers read (and keep) the host's first page.
    for (let i = 0; i < 8; i++) expect((await fresh('/v1/visit/records?size=5', host.token)).status).toBe(200);
    const made = await call(service.url, 'POST', '/v1/subject', {
      token: visitor.token,
      body: { name: '多进程访客', phone: visitor.phone, interviewee: host.name, interviewee_phone: host.phone, ...futureWindow(3) },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const id = made.body.data.id as number;
    // The other worker hears of it by NOTIFY: within moments, and from then on every answer has it.
    await waitUntil(
      async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => fresh('/v1/visit/records?size=5', host.token)));
        return answers.every((a) => a.status === 200 && a.body.data[0]?.id === id);
      },
      'the new record on both workers',
      10_000,
      50,
    );
    for (let i = 0; i < 10; i++) {
      const a = await fresh('/v1/visit/records?size=5', host.token);
      expect(a.body.data[0].id).toBe(id);
      expect(a.body.data[0].is_auth).toBe(0);
    }
    // The host authorizes through whichever worker: every page says so.
    expect((await call(service.url, 'PUT', `/v1/auth/${id}`, { token: host.token })).status).toBe(200);
    await waitUntil(
      async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => fresh('/v1/auth/records?size=5', visitor.token)));
        return answers.every((a) => a.status === 200 && a.body.data.find((r: any) => r.id === id)?.is_auth === 1);
      },
      'the authorization on both workers',
      10_000,
      50,
    );
  });

  it('a worker that dies is replaced, and the service keeps answering', async () => {
    const before = workers();
    expect(before).toHaveLength(2);
    process.kill(before[0]!, 'SIGKILL');
    await waitUntil(
      () => {
        const now = workers();
        return now.length === 2 && !now.includes(before[0]!);
      },
      'a new worker',
      60_000,
    );
    await waitUntil(async () => (await fresh('/readyz', actors.hosts[0]!.token)).status === 200, 'ready', 60_000);
    // The replacement listens only once ready: every answer is a 200.
    await new Promise((r) => setTimeout(r, 3000));
    const answers = await Promise.all(Array.from({ length: 10 }, () => fresh('/v1/visit/records?size=5', actors.hosts[0]!.token)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
  });

  it('four workers starting together on a new, empty database: neither fails (schema set-up is serialized)', async () => {
    const base = process.env.TEST_DATABASE_URL!;
    const name = `laifang_empty_${process.pid}_${Date.now() % 100000}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    const port = await freePort();
    // Four workers: more chances for two of them to meet in pg-boss's set-up.
    const fresh2 = new ServiceProcess(port, () =>
      serviceEnv({ port, databaseUrl: url.toString(), sims, storageDir: storage, extra: { WEB_CONCURRENCY: '4' } }),
    );
    try {
      await fresh2.start(120_000);
      // Both workers answer, and none exited on the way (the primary logs every exit).
      const answers = await Promise.all(Array.from({ length: 6 }, () => call(fresh2.url, 'GET', '/readyz', { headers: { connection: 'close' } })));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(fresh2.stderr).not.toMatch(/failed to start|worker exited/);
    } finally {
      await fresh2.stop(30_000);
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });

  it('SIGTERM on the primary stops every worker', async () => {
    const pids = workers();
    expect(pids).toHaveLength(2);
    await service.stop(30_000);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitUntil(() => pids.every((p) => !alive(p)), 'the workers gone', 30_000);
  });
});
