import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { openDatabase } from '../../src/db/client.js';
import { auditDeliveries, auditFigures } from '../helpers/delivery-audit.js';
import { openTestDatabase, testDbKind, type Sims } from '../helpers/harness.js';
import { freePort, serviceEnv, ServiceProcess, sleep, waitUntil } from '../helpers/service-process.js';
import { makeActors, newLedger, runLoad } from '../helpers/visit-load.js';

/**
 * The service as a real process under concurrent load (invitations, visitor requests,
 * authorizations), killed with SIGKILL at a random moment of each round and started again on
 * the same database (a PGlite data directory survives SIGKILL like PostgreSQL does). Then:
 * every application answered 200 exists, every notification of every committed application
 * reached its provider, nothing was sent for an application that did not commit, and a message
 * reached its provider twice only when a kill fell between the provider's acceptance and our
 * record of it. The time between the two (the window) is measured and printed.
 */
const ROUNDS = 4;
const CONCURRENCY = 20;
/** Each round is killed a random 0–KILL_JITTER_MS after it has answered this many requests 200. */
const MIN_ANSWERS_BEFORE_KILL = 6;
const KILL_JITTER_MS = 1500;
const EXPIRE_S = 15;

let sims: Sims;
let service: ServiceProcess;
let dbUrl: string;
let drop: () => Promise<void>;
let storage: string;
let pgliteDir: string;

beforeAll(async () => {
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ limits: null }),
  ]);
  sims = { koala, cloud, oauth, sms };
  storage = mkdtempSync(join(tmpdir(), 'laifang-kill-files-'));
  pgliteDir = mkdtempSync(join(tmpdir(), 'laifang-kill-db-'));
  const db = await openTestDatabase({ pgliteDir });
  await db.database.close();
  dbUrl = db.url;
  drop = db.drop;
  const port = await freePort();
  // A row a killed worker had claimed comes back when its lease (NOTIFY_EXPIRE_S) ends. A live
  // worker's send that outlasts its lease is claimed again too, so the lease must exceed the
  // slowest send of a busy machine, or rows are sent twice without a kill.
  // Likewise the upstream timeout: the simulators share this (busy) test process, and a send
  // they accept but answer after the timeout is retried and received twice (outages.test.ts
  // covers slow systems; this file is about kills).
  service = new ServiceProcess(port, () =>
    serviceEnv({ port, databaseUrl: dbUrl, sims, storageDir: storage, extra: { NOTIFY_EXPIRE_S: String(EXPIRE_S), UPSTREAM_TIMEOUT_MS: '10000' } }),
  );
}, 60_000);

afterAll(async () => {
  await service?.kill();
  await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
  await drop?.();
  rmSync(storage, { recursive: true, force: true });
  rmSync(pgliteDir, { recursive: true, force: true });
});

/**
 * True when copies of one message came from both sides of kill i: one before the next process
 * was spawned (so from the killed one: the simulator may log a request the dying process had
 * already written a little after the SIGKILL, on a busy machine) and one after the kill.
 */
function acrossKill(at: number[], i: number): boolean {
  const nextSpawn = service.spawns[i + 1] ?? Infinity;
  return Math.min(...at) < nextSpawn && Math.max(...at) > service.kills[i]!;
}

/** The kill that ended the life of the process that sent the first copy (the one that caused the duplicate). */
function killAfterFirstCopy(at: number[]): number {
  const first = Math.min(...at);
  const life = service.spawns.filter((t) => t <= first).length - 1;
  return life;
}

describe(`SIGKILL under load (${testDbKind()})`, () => {
  it(`loses nothing over ${ROUNDS} rounds of ${CONCURRENCY} concurrent clients killed at random`, async () => {
    const started = Date.now();
    const ledger = newLedger();
    await service.start();
    const actors = await makeActors(service.url, sims, 'kill');
    const killMoments: number[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      if (!service.running) await service.start();
      let running = true;
      const load = runLoad({ bases: () => [service.url], actors, ledger, concurrency: CONCURRENCY, running: () => running, timeoutMs: 30_000 });
      // Killed at a random moment once the round is under way (some answers given, so that the
      // kill meets requests, transactions and deliveries in flight), whatever the machine's speed.
      const before = ledger.answered.size + ledger.authorized.size;
      const roundStart = Date.now();
      await waitUntil(() => ledger.answered.size + ledger.authorized.size >= before + MIN_ANSWERS_BEFORE_KILL, 'answers before the kill', 60_000, 20);
      await sleep(Math.random() * KILL_JITTER_MS);
      killMoments.push(Date.now() - roundStart);
      // No new requests from here; those in flight meet the kill.
      running = false;
      await service.kill();
      await load;
    }

    // Restarted once more, the service delivers what was left (a row a killed worker had claimed
    // comes back when its lease, NOTIFY_EXPIRE_S, ends); settled = nothing new reached a provider
    // for that long plus a poll.
    await service.start();
    let seen = -1;
    let quietSince = Date.now();
    await waitUntil(
      () => {
        const n = sims.sms.messages().length + sims.cloud.messages().length;
        if (n !== seen) {
          seen = n;
          quietSince = Date.now();
        }
        return Date.now() - quietSince > EXPIRE_S * 1000 + 2500;
      },
      'deliveries to settle',
      120_000,
      200,
    );
    await service.stop();

    const database = await openDatabase(dbUrl, { poolSize: 2 });
    try {
      const audit = await auditDeliveries(database, sims);
      const figures = {
        db: testDbKind(),
        rounds: ROUNDS,
        killedAfterMs: killMoments,
        slowestAnswerMs: ledger.slowestMs,
        requests: ledger.sent,
        answers: Object.fromEntries(ledger.statuses),
        answered200: ledger.answered.size,
        authorizations200: ledger.authorized.size,
        ...auditFigures(audit),
        duplicatesPerKill: service.kills.map((_, i) => audit.duplicates.filter((d) => killAfterFirstCopy(d.at) === i).length),
        kills: service.kills,
        startupMs: service.startupMs,
        seconds: Math.round((Date.now() - started) / 1000),
      };
      console.log(`[faults] sigkill-load ${JSON.stringify(figures)}`);

      // Every application answered 200 exists; every authorization answered 200 holds.
      expect([...ledger.answered].filter((id) => !audit.applications.has(id))).toEqual([]);
      expect([...ledger.authorized].filter((id) => !audit.authorized.has(id))).toEqual([]);
      expect(ledger.answered.size + ledger.authorized.size).toBeGreaterThanOrEqual(ROUNDS * MIN_ANSWERS_BEFORE_KILL);
      // Every notification of every committed application was delivered (or skipped: the
      // companion has no WeChat), and nothing was sent that no committed row asked for.
      expect(audit.unsettled.map((r) => `${r.id}:${r.channel}:${r.status}`)).toEqual([]);
      expect(audit.missing.map((r) => `${r.id}:${r.channel}`)).toEqual([]);
      expect(audit.orphans).toEqual([]);
      // No SMS twice: a row claimed again after a kill asks Aliyun (QuerySendDetails, by its
      // OutId) before it sends, and finds the copy its killed sender had handed over.
      expect(audit.duplicates.filter((d) => d.row.channel === 'sms').map((d) => d.row.key)).toEqual([]);
      // A copy twice only across a kill: the first accepted before a kill, the last after it,
      // and the row was claimed more than once.
      for (const d of audit.duplicates) {
        expect(
          service.kills.some((_, i) => acrossKill(d.at, i)),
          `duplicate ${d.row.channel} ${d.row.key} not across a kill: copies ${d.at.join(', ')}; kills ${service.kills.join(', ')}; spawns ${service.spawns.join(', ')}`,
        ).toBe(true);
        expect(d.row.attempts).toBeGreaterThan(1);
      }
    } finally {
      await database.close();
    }
  }, 240_000);
});
