import type { SmsPort } from '../../adapters/sms/port.js';
import type { WechatCloudPort } from '../../adapters/wechat-cloud/port.js';
import { createBatcher, type Batcher } from '../../db/batcher.js';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../log.js';
import { startClaimLoop } from './claim-loop.js';
import { claimDue, recordOutcomes, type Outcome } from './outbox-repo.js';
import { givingWayPace } from './pace.js';
import { handleRow, type AttemptDeps } from './send.js';

export interface NotifyWorkerDeps {
  database: Database;
  sms: SmsPort;
  wechat: WechatCloudPort;
  /** A pass's short code, made as its message is sent (send.ts); null when the pass no longer admits. */
  passCode(passId: number): Promise<string | null>;
  /** The page of a visit, which every WeChat message links to. */
  visitUrl(applicationId: number): string;
  logger: Logger;
  now: () => number;
  /** Rows claimed per statement. */
  batchSize: number;
  /** Messages in flight at most is concurrency × batchSize (default concurrency 4). */
  concurrency?: number;
  /** How often the outbox is looked at when nothing told this process of new rows. */
  pollingIntervalSeconds: number;
  /** How long a claimed row stays with its sender before it counts as lost (process killed) and is sent again. */
  leaseSeconds: number;
  /** Attempts after the first before a transiently failing notification is given up. */
  retryLimit: number;
  /** First retry delay; it doubles per attempt up to maxRetryDelaySeconds. */
  retryDelaySeconds: number;
  maxRetryDelaySeconds: number;
  /**
   * Sending gives way to answering: while `busy()` (this process answers many requests a second),
   * at most `ratePerSecond` messages are claimed a second; the rest wait in the outbox, due, and
   * go at full speed once the requests subside.
   */
  giveWay?: { busy: () => boolean; ratePerSecond: number };
  /** Told of every attempt's end (metrics). */
  observe?: AttemptDeps['observe'];
}

export interface NotifyWorker {
  /** Stops claiming; resolves once the sends under way have ended and their outcomes are recorded. */
  stop(): Promise<void>;
  /**
   * Resolves once a claim pass that started after the call has found fewer due rows than it
   * asked for (nothing more was due then) and every row claimed until then has ended (sent and
   * recorded, or its retry scheduled). So what was due when the call was made has been handled:
   * a test that expects nothing (more) to be sent waits for this instead of for a while. Rejects
   * when the worker stops first.
   */
  nextIdlePass(): Promise<void>;
  /** Claim statements completed so far (every poll and tick counts, whatever it found). */
  passes(): number;
}

/** Claims in flight at most, in batches, when the caller does not say (see startNotifyWorker). */
const DEFAULT_CONCURRENCY = 4;

/**
 * Group commit of outcomes: each outcome is written as soon as its send returns, in the next
 * statement together with whatever else finished meanwhile. A crash can only resend the messages
 * whose provider had answered and whose statement had not committed (one round trip). At most
 * `capacity` outcomes can wait at once, so one statement takes them all.
 */
function outcomeRecorder(database: Database, now: () => number, capacity: number): Batcher<{ id: number; outcome: Outcome }, void> {
  return createBatcher({
    maxBatch: capacity,
    run: async (items) => {
      await recordOutcomes(database, items, new Date(now()));
      return items.map(() => undefined);
    },
  });
}

/**
 * Sends what the notifications table holds as pending (the outbox: each row is written by the
 * transaction of the record that causes it, so it exists iff that record committed). The row
 * is the record of what was sent: its status changes once, from pending. A transient failure
 * makes it due again after a capped exponential back-off; permanent ones, and the last
 * transient one, are recorded with their reason.
 *
 * One claim loop keeps up to concurrency × batchSize messages in flight: it claims a batch
 * (one statement), starts every send, and claims again as soon as there is room, so one slow
 * provider call holds only its own slot. It looks at the outbox every polling interval, and
 * again at once while batches come back full (a backlog drains at full speed). While the process
 * answers many requests a second (NOTIFY_YIELD_AT) it gives way: a few rows every 100 ms,
 * NOTIFY_YIELD_RATE a second, so a burst of applications is answered at the speed of the
 * requests alone and its messages follow from the outbox once the burst subsides (nothing is
 * lost or reordered). It is not woken when a request commits new rows: a process killed right
 * after answering then has nothing in flight (docs/adr/0003).
 */
export async function startNotifyWorker(deps: NotifyWorkerDeps): Promise<NotifyWorker> {
  const capacity = Math.max(1, deps.concurrency ?? DEFAULT_CONCURRENCY) * deps.batchSize;
  const recorder = outcomeRecorder(deps.database, deps.now, capacity);
  const attemptDeps = {
    ports: { sms: deps.sms, wechat: deps.wechat, passCode: deps.passCode, visitUrl: deps.visitUrl },
    database: deps.database,
    logger: deps.logger,
    retryLimit: deps.retryLimit,
    retryDelaySeconds: deps.retryDelaySeconds,
    maxRetryDelaySeconds: deps.maxRetryDelaySeconds,
    observe: deps.observe,
    leaseSeconds: deps.leaseSeconds,
    record: (id: number, outcome: Outcome) => recorder.push({ id, outcome }),
  };
  const loop = startClaimLoop({
    claim: (limit) => claimDue(deps.database, limit, deps.leaseSeconds),
    handle: (row) => handleRow(row, attemptDeps),
    logger: deps.logger,
    batchSize: deps.batchSize,
    capacity,
    pollMs: deps.pollingIntervalSeconds * 1000,
    giveWay: deps.giveWay && { busy: deps.giveWay.busy, pace: givingWayPace(deps.giveWay.ratePerSecond) },
  });
  return {
    async stop() {
      await loop.stop();
      await recorder.idle();
    },
    nextIdlePass: () => loop.nextIdlePass(),
    passes: () => loop.passes(),
  };
}
