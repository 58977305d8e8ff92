import { eq, sql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { SmsPort } from '../adapters/sms/port.js';
import type { WechatCloudPort } from '../adapters/wechat-cloud/port.js';
import type { Database } from '../db/client.js';
import { notifications } from '../db/schema.js';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SmsPayload, WechatPayload } from '../modules/applications/messages.js';
import { NOTIFY_QUEUE, type Queue } from './queue.js';

export interface NotifyWorkerDeps {
  database: Database;
  queue: Queue;
  sms: SmsPort;
  wechat: WechatCloudPort;
  logger: Logger;
  now: () => number;
  batchSize: number;
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

  /** Counts an attempt on a notification that is still pending (null: nothing left to do). */
  async function claim(id: number) {
    const [row] = await db
      .update(notifications)
      .set({ attempts: sql`${notifications.attempts} + 1` })
      .where(sql`${notifications.id} = ${id} and ${notifications.status} = 'pending'`)
      .returning();
    return row ?? null;
  }

  async function deliver(row: typeof notifications.$inferSelect): Promise<Outcome> {
    if (row.channel === 'sms') {
      const p = row.payload as SmsPayload;
      const { bizId } = await deps.sms.send({ phone: row.phone, templateCode: p.templateCode, params: p.params, outId: String(row.id) });
      return { status: 'sent', ref: bizId };
    }
    const p = row.payload as WechatPayload;
    const result = await deps.wechat.sendMessage({ phone: row.phone, tplMessageId: p.tplMessageId, url: p.url, data: p.data });
    return result === 'sent' ? { status: 'sent', ref: '' } : { status: 'skipped', reason: 'phone has no WeChat binding' };
  }

  async function record(id: number, outcome: Outcome): Promise<void> {
    await db
      .update(notifications)
      .set({
        status: outcome.status,
        providerRef: outcome.status === 'sent' ? outcome.ref || null : null,
        lastError: outcome.status === 'sent' ? null : outcome.reason,
        finishedAt: new Date(deps.now()),
      })
      .where(eq(notifications.id, id));
  }

  async function handle(job: PgBoss.JobWithMetadata<{ notificationId: number }>): Promise<void> {
    const id = job.data.notificationId;
    const row = await claim(id);
    if (!row) return;
    try {
      await record(id, await deliver(row));
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
        return;
      }
      logger.error({ notificationId: id, attempts: row.attempts, reason }, 'notification failed for good');
      await record(id, { status: 'failed', reason: transient ? `gave up after ${row.attempts} attempts: ${reason}` : reason });
    }
  }

  /** A job whose handling itself failed (database down) goes back to pg-boss alone, not its whole batch. */
  async function settle(job: PgBoss.JobWithMetadata<{ notificationId: number }>): Promise<void> {
    try {
      await handle(job);
    } catch (err) {
      logger.warn({ err, notificationId: job.data.notificationId }, 'notification job failed; pg-boss will retry it');
      await boss.fail(NOTIFY_QUEUE, job.id, { message: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
    }
  }

  let inFlight = 0;
  let workerId = '';
  workerId = await boss.work<{ notificationId: number }>(
    NOTIFY_QUEUE,
    { batchSize: deps.batchSize, pollingIntervalSeconds: deps.pollingIntervalSeconds, includeMetadata: true },
    async (jobs) => {
      inFlight++;
      try {
        // One job's failure must not fail the batch: each is settled on its own.
        await Promise.all(jobs.map((job) => settle(job)));
      } finally {
        inFlight--;
      }
      // A full batch means a backlog: fetch the next one at once instead of after the polling interval.
      if (jobs.length >= deps.batchSize) boss.notifyWorker(workerId);
    },
  );

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
