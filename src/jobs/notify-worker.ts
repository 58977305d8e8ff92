import { eq, sql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { SmsPort } from '../adapters/sms/port.js';
import type { WechatCloudPort } from '../adapters/wechat-cloud/port.js';
import type { Db } from '../db/client.js';
import { notifications } from '../db/schema.js';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SmsPayload, WechatPayload } from '../modules/applications/messages.js';
import { NOTIFY_QUEUE } from './queue.js';

export interface NotifyWorkerDeps {
  db: Db;
  boss: PgBoss;
  sms: SmsPort;
  wechat: WechatCloudPort;
  logger: Logger;
  now: () => number;
  batchSize: number;
  pollingIntervalSeconds: number;
}

export interface NotifyWorker {
  stop(): Promise<void>;
}

type Outcome = { status: 'sent'; ref: string } | { status: 'skipped'; reason: string } | { status: 'failed'; reason: string };

/**
 * Sends queued notifications. The notification row is the record of what was sent: a job
 * whose row is no longer pending (a retried or redelivered job) sends nothing. Transient
 * failures throw back to pg-boss, which retries with exponential back-off; permanent ones,
 * and the last transient one, are recorded with their reason.
 */
export async function startNotifyWorker(deps: NotifyWorkerDeps): Promise<NotifyWorker> {
  const { db, boss, logger } = deps;

  async function deliver(id: number): Promise<Outcome | null> {
    const [row] = await db
      .update(notifications)
      .set({ attempts: sql`${notifications.attempts} + 1` })
      .where(sql`${notifications.id} = ${id} and ${notifications.status} = 'pending'`)
      .returning();
    if (!row) return null;
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
    try {
      const outcome = await deliver(id);
      if (outcome) await record(id, outcome);
    } catch (err) {
      // Anything that is not a provider's verdict (a database hiccup) is worth another try.
      const transient = err instanceof UpstreamError ? err.transient : true;
      const reason = err instanceof UpstreamError ? (err.detail ?? err.message) : err instanceof Error ? err.message : String(err);
      if (transient && job.retryCount < job.retryLimit) {
        await db.update(notifications).set({ lastError: reason }).where(eq(notifications.id, id));
        logger.warn({ notificationId: id, attempt: job.retryCount + 1, reason }, 'notification failed, will retry');
        await boss.fail(NOTIFY_QUEUE, job.id, { message: reason });
        return;
      }
      logger.error({ notificationId: id, reason }, 'notification failed for good');
      await record(id, { status: 'failed', reason: transient ? `gave up after ${job.retryCount + 1} attempts: ${reason}` : reason });
    }
  }

  let workerId = '';
  workerId = await boss.work<{ notificationId: number }>(
    NOTIFY_QUEUE,
    { batchSize: deps.batchSize, pollingIntervalSeconds: deps.pollingIntervalSeconds, includeMetadata: true },
    async (jobs) => {
      // One job's failure must not fail the batch: each is settled on its own.
      await Promise.all(jobs.map((job) => handle(job)));
      // A full batch means a backlog: fetch the next one at once instead of after the polling interval.
      if (jobs.length >= deps.batchSize) boss.notifyWorker(workerId);
    },
  );

  return {
    stop: () => boss.offWork(NOTIFY_QUEUE),
  };
}
