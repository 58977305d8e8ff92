import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import type { Database } from '../../src/db/client.js';
import { auditDeliveries, auditFigures, rowsOf } from '../helpers/delivery-audit.js';
import { futureWindow, openTestDatabase, testDbKind, type Sims } from '../helpers/harness.js';
import { call, freePort, serviceEnv, ServiceProcess, sleep, waitUntil } from '../helpers/service-process.js';
import { makeActors, newLedger, runLoad, type Actors } from '../helpers/visit-load.js';

/**
 * Three service processes on one PostgreSQL database, every request sent to the next replica
 * in turn: no notification is sent twice (each job runs once), an Idempotency-Key sent to two
 * replicas at once makes one application, and the per-phone SMS-code limit holds across them.
 * PostgreSQL project only: an embedded PGlite belongs to one process.
 */
const REPLICAS = 3;
const CONCURRENCY = 15;
const LOAD_MS = 4000;

const skip = testDbKind() !== 'pg';

let sims: Sims;
let replicas: ServiceProcess[] = [];
let database: Database;
let drop: () => Promise<void>;
let storage: string;
let actors: Actors;

beforeAll(async () => {
  if (skip) return;
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    // Aliyun's own limits off: the limits under test are ours, kept in the shared database.
    startAliyunSmsSimulator({ limits: null, verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'] }),
  ]);
  sims = { koala, cloud, oauth, sms };
  storage = mkdtempSync(join(tmpdir(), 'laifang-replicas-files-'));
  const db = await openTestDatabase();
  database = db.database;
  drop = db.drop;
  replicas = await Promise.all(
    Array.from({ length: REPLICAS }, async () => {
      const port = await freePort();
      // Nothing is killed here: jobs expire after the default minute, so a batch slowed by a busy
      // machine is not taken for a dead worker's (which would retry it and blur "runs once").
      return new ServiceProcess(port, () =>
        serviceEnv({ port, databaseUrl: db.url, sims, storageDir: storage, extra: { NOTIFY_EXPIRE_S: '60', UPSTREAM_TIMEOUT_MS: '10000' } }),
      );
    }),
  );
  // All at once, as a deployment rolls them out: migrations are serialised by an advisory lock.
  await Promise.all(replicas.map((r) => r.start()));
  actors = await makeActors(replicas[0]!.url, sims, 'rep');
}, 180_000);

afterAll(async () => {
  if (skip) return;
  await Promise.all(replicas.map((r) => r.stop()));
  await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
  await database?.close();
  await drop?.();
  if (storage) rmSync(storage, { recursive: true, force: true });
});

describe.skipIf(skip)(`${REPLICAS} replicas on one PostgreSQL (postgres project only)`, () => {
  it('an Idempotency-Key sent to two replicas at once makes one application', async () => {
    const host = actors.hosts[0]!;
    const body = { name: '幂等访客', phone: '13900008001', interviewee: host.name, interviewee_phone: host.phone, ...futureWindow(5) };
    const key = `rep-key-${Date.now()}`;
    const answers = await Promise.all(
      replicas.flatMap((r) => [r, r]).map((r) => call(r.url, 'POST', '/v1/subject', { token: host.token, body, headers: { 'idempotency-key': key } })),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.body.data.id)).size).toBe(1);
    const rows = await rowsOf<{ n: number }>(database, sql`select count(*)::int as n from applications where name = '幂等访客'`);
    expect(rows[0]!.n).toBe(1);
  });

  it('the SMS-code limit (1 a minute per phone) holds across replicas', async () => {
    const phone = '13700008001';
    const visitor = actors.visitors[0]!;
    const answers = await Promise.all(
      replicas.flatMap((r) => [r, r]).map((r) => call(r.url, 'POST', '/v1/sms/code', { token: visitor.token, body: { phone } })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 429, 429, 429, 429, 429]);
    for (const a of answers.filter((x) => x.status === 429)) expect(a.body).toMatchObject({ code: 429, error: 'RATE_LIMITED' });
    expect(sims.sms.messages().filter((m) => m.phone === phone)).toHaveLength(1);
  });

  it('under load spread round-robin, every notification is sent once and each row is claimed once', async () => {
    const started = Date.now();
    const ledger = newLedger();
    let running = true;
    const load = runLoad({ bases: () => replicas.map((r) => r.url), actors, ledger, concurrency: CONCURRENCY, running: () => running, timeoutMs: 30_000 });
    await sleep(LOAD_MS);
    running = false;
    await load;

    await waitUntil(
      async () => (await rowsOf<{ n: number }>(database, sql`select count(*)::int as n from notifications where status = 'pending'`))[0]!.n === 0,
      'every notification settled',
      60_000,
      250,
    );
    // Every row is final (sent, failed or skipped): no sender holds one, so none sends again.
    const audit = await auditDeliveries(database, sims);
    console.log(
      `[faults] replicas ${JSON.stringify({ replicas: REPLICAS, requests: ledger.sent, answers: Object.fromEntries(ledger.statuses), ...auditFigures(audit), seconds: Math.round((Date.now() - started) / 1000) })}`,
    );

    expect(ledger.failures).toEqual([]);
    expect(
      Object.keys(Object.fromEntries(ledger.statuses))
        .map(Number)
        .filter((s) => s !== 200),
    ).toEqual([]);
    expect(ledger.answered.size).toBeGreaterThan(10);
    expect([...ledger.answered].filter((id) => !audit.applications.has(id))).toEqual([]);
    expect([...ledger.authorized].filter((id) => !audit.authorized.has(id))).toEqual([]);
    expect(audit.unsettled).toEqual([]);
    expect(audit.missing).toEqual([]);
    expect(audit.orphans).toEqual([]);
    // No duplicate: every OutId once at the SMS provider, every WeChat message once.
    expect(audit.duplicates.map((d) => `${d.row.channel}:${d.row.key}`)).toEqual([]);
    const outIds = sims.sms.messages().map((m) => m.out_id);
    expect(new Set(outIds).size).toBe(outIds.length);
    // Each row was claimed once (by one replica) and recorded at its first attempt.
    expect(audit.rows.filter((r) => r.attempts !== 1).map((r) => `${r.id}:${r.attempts}`)).toEqual([]);
    // No replica fell over on the way.
    expect(replicas.filter((r) => !r.alive).map((r) => r.stderr.slice(-2000))).toEqual([]);
  }, 120_000);
});
