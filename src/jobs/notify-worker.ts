import { eq } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { SmsPort } from '../adapters/sms/port.js';
import type { WechatCloudPort } from '../adapters/wechat-cloud/port.js';
import type { Database, Statement } from '../db/client.js';
import { notifications } from '../db/schema.js';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SmsPayload, WechatPayload } from '../modules/applications/messages.js';
import { SmsCapExceeded } from '../modules/sms-guard/guard.js';
import { NOTIFY_QUEUE, type Queue } from './queue.js';

export interface NotifyWorkerDeps {
  database: Database;
  queue: Queue;
  sms: SmsPort;
  wechat: WechatCloudPort;
  logger: Logger;
  now: () => number;
  batchSize: number;
  /** Concurrent fetch loops, each with up to batchSize jobs in flight (default 4). */
  concurrency?: number;
  pollingIntervalSeconds: number;
  /** Attempts after the first before a transiently failing notification is given up. */
  retryLimit: number;
  /** First retry delay; it doubles per attempt up to maxRetryDelaySeconds. */
  retryDelaySeconds: number;
  maxRetryDelaySeconds: number;
}

export interface NotifyWorker {
  stop(): Promise<void>;
}

/** The columns a send needs, as the claim returns them. */
interface ClaimedRow {
  id: number;
  channel: string;
  phone: string;
  payload: unknown;
  attempts: number;
}

/** Fetch loops on the queue when the caller does not say (see startNotifyWorker). */
const DEFAULT_CONCURRENCY = 4;

const CLAIM: Statement = {
  name: 'laifang_notify_claim',
  text: `update notifications set attempts = attempts + 1
  where id = any($1::bigint[]) and status = 'pending'
  returning id, channel, phone, payload, attempts`,
};

const RECORD: Statement = {
  name: 'laifang_notify_record',
  text: `update notifications n set status = v.status, provider_ref = v.ref, last_error = v.err, finished_at = $2
  from json_to_recordset($1::json) as v(id bigint, status text, ref text, err text)
  where n.id = v.id`,
};

type Outcome = { status: 'sent'; ref: string } | { status: 'skipped'; reason: string } | { status: 'failed'; reason: string };

/**
 * Sends queued notifications. The notification row is the record of what was sent: a job
 * whose row is no longer pending (a retried or redelivered job) sends nothing. A transient
 * failure queues the next attempt as a new job after a capped exponential back-off; permanent
 * ones, and the last transient one, are recorded with their reason.
 */
export async function startNotifyWorker(deps: NotifyWorkerDeps): Promise<NotifyWorker> {
  const { logger } = deps;
  const { db } = deps.database;
  const boss = deps.queue.boss;

  /** Exponential back-off with a ceiling (so a message follows an outage's end within a minute), ±20 % jitter. */
  const retryDelay = (attempts: number) =>
    Math.min(deps.retryDelaySeconds * 2 ** Math.max(0, attempts - 1), deps.maxRetryDelaySeconds) * (0.8 + Math.random() * 0.4);

  /**
   * Counts an attempt on each notification of a batch that is still pending, in one statement
   * (the rows not returned have nothing left to do). A row named by two jobs of one batch is
   * returned, and so sent, once.
   */
  async function claimAll(ids: number[]): Promise<ClaimedRow[]> {
    const rows = await deps.database.query<ClaimedRow & { id: string | number }>(CLAIM, [ids]);
    return rows.map((r) => ({ ...r, id: Number(r.id) }));
  }

  /** Records outcomes in one statement. */
  async function recordAll(done: Array<{ id: number; outcome: Outcome }>): Promise<void> {
    if (done.length === 0) return;
    const rows = done.map(({ id, outcome: o }) => ({
      id,
      status: o.status,
      ref: o.status === 'sent' ? o.ref || null : null,
      err: o.status === 'sent' ? null : o.reason,
    }));
    await deps.database.query(RECORD, [JSON.stringify(rows), new Date(deps.now())]);
  }

  /**
   * Group commit of outcomes: each outcome is written as soon as its send returns — in the next
   * statement, together with whatever else finished meanwhile — not when its whole batch is done.
   * A crash can only resend the messages whose provider had answered and whose statement had not
   * committed (one round trip), instead of every message of every batch in flight.
   */
  const waiting: Array<{ item: { id: number; outcome: Outcome }; done: (err?: unknown) => void }> = [];
  let flushing = false;
  function record(id: number, outcome: Outcome): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiting.push({ item: { id, outcome }, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!flushing) void flush();
    });
  }
  async function flush(): Promise<void> {
    flushing = true;
    while (waiting.length > 0) {
      const group = waiting.splice(0);
      try {
        await recordAll(group.map((g) => g.item));
        for (const g of group) g.done();
      } catch (err) {
        for (const g of group) g.done(err ?? new Error('recording failed'));
      }
    }
    flushing = false;
  }

  async function deliver(row: ClaimedRow): Promise<Outcome> {
    if (row.channel === 'sms') {
      const p = row.payload as SmsPayload;
      try {
        const { bizId } = await deps.sms.send({ phone: row.phone, templateCode: p.templateCode, params: p.params, outId: String(row.id) });
        return { status: 'sent', ref: bizId };
      } catch (err) {
        // The per-phone / global SMS cap (modules/sms-guard): recorded, not retried.
        if (err instanceof SmsCapExceeded) return { status: 'skipped', reason: `sms cap reached (${err.scope})` };
        throw err;
      }
    }
    const p = row.payload as WechatPayload;
    const result = await deps.wechat.sendMessage({ phone: row.phone, tplMessageId: p.tplMessageId, url: p.url, data: p.data });
    return result === 'sent' ? { status: 'sent', ref: '' } : { status: 'skipped', reason: 'phone has no WeChat binding' };
  }

  /** Sends one claimed notification: its outcome to record, or null when a retry was queued instead. */
  async function attempt(row: ClaimedRow): Promise<Outcome | null> {
    const id = row.id;
    try {
      return await deliver(row);
    } catch (err) {
      // Anything that is not a provider's verdict (a database hiccup) is worth another try.
      const transient = err instanceof UpstreamError ? err.transient : true;
      const reason = err instanceof UpstreamError ? (err.detail ?? err.message) : err instanceof Error ? err.message : String(err);
      if (transient && row.attempts <= deps.retryLimit) {
        const delaySeconds = retryDelay(row.attempts);
        // The next attempt is a new job, written with the error in one transaction.
        await db.transaction(async (tx) => {
          await tx.update(notifications).set({ lastError: reason }).where(eq(notifications.id, id));
          await deps.queue.enqueueNotifications(deps.database.executorFor(tx), [id], { delaySeconds });
        });
        logger.warn({ notificationId: id, attempt: row.attempts, retryInSeconds: Math.round(delaySeconds), reason }, 'notification failed, will retry');
        return null;
      }
      logger.error({ notificationId: id, attempts: row.attempts, reason }, 'notification failed for good');
      return { status: 'failed', reason: transient ? `gave up after ${row.attempts} attempts: ${reason}` : reason };
    }
  }

  /** Jobs whose handling itself failed (database down) go back to pg-boss, which retries them. */
  async function failJobs(jobs: Array<PgBoss.JobWithMetadata<{ notificationId: number }>>, err: unknown): Promise<void> {
    if (jobs.length === 0) return;
    logger.warn({ err, notificationIds: jobs.map((j) => j.data.notificationId) }, 'notification jobs failed; pg-boss will retry them');
    const message = err instanceof Error ? err.message : String(err);
    await Promise.all(jobs.map((job) => boss.fail(NOTIFY_QUEUE, job.id, { message }).catch(() => undefined)));
  }

  /**
   * One batch: claim every row (one statement), send them all at once, record each outcome as
   * its send returns (group-committed with the others finishing then). At hundreds of messages
   * a second the database round trips, not the providers, bound the worker; a statement per
   * message would be one too many, a statement per batch widens what a crash resends.
   */
  async function handleBatch(jobs: Array<PgBoss.JobWithMetadata<{ notificationId: number }>>): Promise<void> {
    let rows: ClaimedRow[];
    try {
      rows = await claimAll(jobs.map((j) => j.data.notificationId));
    } catch (err) {
      await failJobs(jobs, err);
      return;
    }
    const broken = new Set<number>();
    let recordError: unknown = null;
    await Promise.all(
      rows.map(async (row) => {
        let outcome: Outcome | null;
        try {
          outcome = await attempt(row);
        } catch (err) {
          // Queuing the retry failed (database down): that job goes back to pg-boss alone.
          logger.warn({ err, notificationId: row.id }, 'could not queue the retry of a notification');
          broken.add(row.id);
          return;
        }
        if (!outcome) return;
        try {
          await record(row.id, outcome);
        } catch (err) {
          recordError = err;
          broken.add(row.id);
        }
      }),
    );
    await failJobs(jobs.filter((j) => broken.has(j.data.notificationId)), recordError ?? new Error('retry could not be queued'));
  }

  let inFlight = 0;
  // Several fetch loops on the queue (pg-boss 10 has no per-worker concurrency): while one
  // batch waits for its providers, the next ones are fetched and sent. SKIP LOCKED in pg-boss's
  // fetch hands each job to one loop only.
  for (let i = 0; i < Math.max(1, deps.concurrency ?? DEFAULT_CONCURRENCY); i++) {
    let workerId = '';
    workerId = await boss.work<{ notificationId: number }>(
      NOTIFY_QUEUE,
      { batchSize: deps.batchSize, pollingIntervalSeconds: deps.pollingIntervalSeconds, includeMetadata: true },
      async (jobs) => {
        inFlight++;
        try {
          await handleBatch(jobs);
        } finally {
          inFlight--;
        }
        // A full batch means a backlog: fetch the next one at once instead of after the polling interval.
        if (jobs.length >= deps.batchSize) boss.notifyWorker(workerId);
      },
    );
  }

  return {
    async stop() {
      await boss.offWork(NOTIFY_QUEUE);
      // The worker may be fetching as it is told to stop; the batch it gets still runs, and
      // pg-boss completes it with a query it does not await. Wait for all of that to finish
      // before the database can be closed.
      await deps.queue.drain(() => inFlight > 0);
    },
  };
}
