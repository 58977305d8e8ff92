import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { openDatabase } from '../../src/db/client.js';
import { sql } from 'drizzle-orm';
import { auditDeliveries, auditFigures, rowsOf } from '../helpers/delivery-audit.js';
import { testDbKind, type Sims } from '../helpers/harness.js';
import { postgresBinDir, startPrivateCluster, type PrivateCluster } from '../helpers/private-postgres.js';
import { call, freePort, PRODUCT_HOST_MISS_LIMITS, serviceEnv, ServiceProcess, sleep, waitUntil } from '../helpers/service-process.js';
import { makeActors, newLedger, runLoad } from '../helpers/visit-load.js';

/**
 * PostgreSQL stopped and started under the running service (a private cluster: the machine's
 * shared server is never touched), once cleanly (`pg_ctl stop -m fast`, which also ends every
 * connection) and once as a crash (`-m immediate`). Meanwhile: /readyz answers 503, requests
 * get 503 UPSTREAM_UNAVAILABLE at once (no hang, no 500, no SQL), the process stays up; after
 * the start the service reconnects by itself (pool and pg-boss), nothing answered 200 is lost
 * and every notification is delivered. PostgreSQL project only: PGlite lives inside the process.
 */
const CONCURRENCY = 10;
const OUTAGE_MS = 3000;
/** No answer may take longer than this, database down or not. */
const ANSWER_BOUND_MS = 7000;

const skip = testDbKind() !== 'pg' || !postgresBinDir();

let cluster: PrivateCluster;
let sims: Sims;
let service: ServiceProcess;
let storage: string;

beforeAll(async () => {
  if (skip) return;
  cluster = await startPrivateCluster();
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ limits: null }),
  ]);
  sims = { koala, cloud, oauth, sms };
  storage = mkdtempSync(join(tmpdir(), 'laifang-pgr-files-'));
  const port = await freePort();
  // The product's host-miss limits: a count taken back while the database is down must not
  // stay (nothing here kills the process), or the load's visitors meet 429 after the outages.
  const extra = PRODUCT_HOST_MISS_LIMITS;
  service = new ServiceProcess(port, () => serviceEnv({ port, databaseUrl: cluster.url, sims, storageDir: storage, extra }));
}, 120_000);

afterAll(async () => {
  if (skip) return;
  await service?.kill();
  await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
  await cluster?.destroy();
  if (storage) rmSync(storage, { recursive: true, force: true });
});

/** Polls /readyz until it answers `status`; returns how long that took. */
async function readyzBecomes(status: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const seen: string[] = [];
  await waitUntil(
    async () => {
      const res = await call(service.url, 'GET', '/readyz', { timeoutMs: ANSWER_BOUND_MS });
      seen.push(`${res.status}/${res.ms}ms`);
      return res.status === status;
    },
    `/readyz ${status} (seen: ${seen.slice(-5).join(' ')})`,
    timeoutMs,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; /readyz answered ${seen.slice(-8).join(', ')}; service stderr: ${service.stderr.slice(-2000)}`);
  });
  return Date.now() - started;
}

describe.skipIf(skip)('PostgreSQL restarted under load (postgres project only: PGlite is inside the process)', () => {
  it('answers 503 while the database is down, reconnects by itself, loses nothing', async () => {
    const started = Date.now();
    await service.start();
    const actors = await makeActors(service.url, sims, 'pgr');
    const ledger = newLedger();
    let running = true;
    const load = runLoad({ bases: () => [service.url], actors, ledger, concurrency: CONCURRENCY, running: () => running, timeoutMs: ANSWER_BOUND_MS });

    const outages: Array<Record<string, unknown>> = [];
    const stops: number[] = [];
    /** Each outage from the stop's request to the restart: what a duplicate must overlap. */
    const downs: Array<{ from: number; to: number }> = [];
    for (const mode of ['fast', 'immediate'] as const) {
      await sleep(1500);
      const answeredBefore = ledger.answered.size;
      const stopRequestedAt = Date.now();
      await cluster.stop(mode);
      const stoppedAt = Date.now();
      stops.push(stoppedAt);
      const notReadyAfterMs = await readyzBecomes(503, 5000);
      // Requests keep coming during the outage; give them time to meet it.
      await sleep(OUTAGE_MS);
      const refusedDuring = ledger.statuses.get(503) ?? 0;
      await cluster.start();
      const startedAt = Date.now();
      downs.push({ from: stopRequestedAt, to: startedAt });
      const readyAfterMs = await readyzBecomes(200, 30_000);
      // The pool and pg-boss reconnect by themselves: new applications are answered again.
      await waitUntil(() => ledger.answered.size > answeredBefore, 'an application answered after the restart', 30_000);
      outages.push({
        mode,
        downMs: startedAt - stoppedAt,
        notReadyAfterMs,
        readyAfterStartMs: readyAfterMs,
        firstApplicationAfterStartMs: Date.now() - startedAt,
        refusedSoFar: refusedDuring,
      });
      expect(service.alive, `service died: ${service.stderr.slice(-3000)}`).toBe(true);
    }
    await sleep(1000);
    running = false;
    await load;

    // Settled: nothing pending in the database.
    const database = await openDatabase(cluster.url, { poolSize: 2 });
    try {
      await waitUntil(
        async () => {
          const rows = await rowsOf<{ n: number }>(database, sql`select count(*)::int as n from notifications where status = 'pending'`);
          return Number(rows[0]?.n) === 0;
        },
        'every notification settled',
        60_000,
        250,
      );
      // Every row is final (sent, failed or skipped): no sender holds one, so none sends again.
      const audit = await auditDeliveries(database, sims);
      const statuses = Object.fromEntries(ledger.statuses);
      console.log(
        `[faults] pg-restart ${JSON.stringify({ outages, requests: ledger.sent, answers: statuses, slowestAnswerMs: ledger.slowestMs, ...auditFigures(audit), duplicatesPerOutage: stops.map((t) => audit.duplicates.filter((d) => Math.min(...d.at) <= t && t <= Math.max(...d.at)).length), seconds: Math.round((Date.now() - started) / 1000) })}`,
      );

      // During the outages: 200 or 503 UPSTREAM_UNAVAILABLE, never a 500, never SQL, never a hang.
      expect(
        Object.keys(statuses)
          .map(Number)
          .filter((s) => s !== 200 && s !== 503),
      ).toEqual([]);
      expect(ledger.statuses.get(503) ?? 0).toBeGreaterThan(0);
      for (const body of ledger.failures) {
        expect(body).toMatchObject({ code: 503, error: 'UPSTREAM_UNAVAILABLE', err_msg: expect.any(String) });
        expect(JSON.stringify(body)).not.toMatch(/select |insert |update |ECONN|terminat/i);
      }
      expect(ledger.slowestMs).toBeLessThan(ANSWER_BOUND_MS);
      // Nothing answered 200 is lost; every notification delivered; none for an uncommitted one.
      expect([...ledger.answered].filter((id) => !audit.applications.has(id))).toEqual([]);
      expect([...ledger.authorized].filter((id) => !audit.authorized.has(id))).toEqual([]);
      expect(audit.unsettled.map((r) => `${r.id}:${r.status}`)).toEqual([]);
      expect(audit.missing.map((r) => r.id)).toEqual([]);
      expect(audit.orphans).toEqual([]);
      // A copy twice only for a row whose `sent` record met an outage: the first copy before the
      // database came back (a send in flight when it went down is accepted during the outage,
      // and its record fails), the second after it went down, and the row claimed again.
      for (const d of audit.duplicates) {
        expect(
          downs.some((o) => Math.min(...d.at) <= o.to && Math.max(...d.at) >= o.from),
          `duplicate ${d.row.channel} ${d.row.key} not across an outage`,
        ).toBe(true);
        expect(d.row.attempts).toBeGreaterThan(1);
      }
    } finally {
      await database.close();
    }
  }, 180_000);
});
