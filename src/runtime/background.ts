import type { Database } from '../db/client.js';
import { startQueue, type Queue } from '../db/queue.js';
import { startUpkeep } from '../db/upkeep.js';
import { WebLoad } from '../http/load.js';
import { startNotifyWorker, type NotifyWorker } from '../modules/notifications/worker.js';
import { startRetention, type RetentionSweeper } from '../modules/privacy/retention.js';
import { ensureKoalaSyncQueue } from '../modules/visits/koala-sync.js';
import { createPassViews } from '../modules/visits/pass-views.js';
import { createPassKeys } from '../modules/visits/passes.js';
import type { Ports } from './ports.js';
import type { Step } from './steps.js';

export interface Background {
  queue: Queue;
  /** Requests a second this process answers (counted by the app): the worker gives way while there are many. */
  load: WebLoad;
  /** The notification sender, or null with NOTIFY_SEND=false. */
  worker: NotifyWorker | null;
  /** The retention sweep (tests run one and wait for it). */
  retention: RetentionSweeper;
}

/** The job queue, the notification worker, retention and table upkeep. */
export async function backgroundStep(step: Step, database: Database, ports: Ports, secret: string): Promise<Background> {
  const { config, logger, now, closers } = step;
  // Queue set-up (pg-boss's schema and queues) one process at a time: it is DDL.
  const queue = await database.serialized(async () => {
    const q = await startQueue(database.executor, { maintenanceIntervalSeconds: config.notify.maintenanceIntervalSeconds }, logger);
    await ensureKoalaSyncQueue(q.boss, { retryDelaySeconds: config.notify.retryDelaySeconds, expireInSeconds: config.notify.expireInSeconds });
    return q;
  });
  closers.add(() => queue.stop());
  const load = new WebLoad();
  // A pass message's short code is made as it is sent (it opens the pass: never stored in the outbox).
  const passViews = createPassViews({ db: database.db, keys: createPassKeys(secret), logger, publicUrl: config.publicUrl, now });
  // NOTIFY_SEND=false: a web-only replica; another process claims from the same outbox.
  const worker = config.notify.send
    ? await startNotifyWorker({
        database,
        sms: ports.sms,
        wechat: ports.cloud,
        passCode: (passId) => passViews.linkCode(passId),
        visitUrl: (applicationId) => `${config.publicUrl}/h5/#/visit/${applicationId}`,
        logger,
        now,
        batchSize: config.notify.batchSize,
        pollingIntervalSeconds: config.notify.pollingIntervalSeconds,
        leaseSeconds: config.notify.expireInSeconds,
        retryLimit: config.notify.retryLimit,
        retryDelaySeconds: config.notify.retryDelaySeconds,
        maxRetryDelaySeconds: config.notify.maxRetryDelaySeconds,
        observe: step.metrics?.sent,
        giveWay: config.notify.yieldAt > 0 ? { busy: () => load.perSecond() >= config.notify.yieldAt, ratePerSecond: config.notify.yieldRate } : undefined,
      })
    : null;
  if (worker) closers.add(() => worker.stop());
  const retention = startRetention({ database, logger, now, options: { ...config.retention, exportKeepHours: config.ledgerExport.keepHours } });
  closers.add(() => retention.stop());
  // VACUUM of the outbox, queue, counter and application tables (PGlite has no autovacuum; PostgreSQL's comes too late for them).
  const upkeep = startUpkeep({ database, logger, hotSeconds: config.upkeepSeconds });
  closers.add(() => upkeep.stop());
  return { queue, load, worker, retention };
}
