import PgBoss from 'pg-boss';
import type { SqlExecutor } from '../db/client.js';
import type { Logger } from '../log.js';

export const NOTIFY_QUEUE = 'notify';

export interface QueueOptions {
  /** pg-boss's own retries: only for jobs whose worker died (expired) or whose handler crashed. */
  retryLimit: number;
  retryDelaySeconds: number;
  /** How long a fetched job may stay active before it counts as lost (worker killed) and is retried. */
  expireInSeconds: number;
  /** How often expired jobs are looked for. */
  maintenanceIntervalSeconds: number;
}

export interface Queue {
  boss: PgBoss;
  /** Queues one job per notification id, inside the caller's transaction (optionally to start later). */
  enqueueNotifications(executor: SqlExecutor, notificationIds: number[], opts?: { delaySeconds?: number }): Promise<void>;
  /**
   * Resolves once none of pg-boss's own queries is running and `busy()` reports nothing, over
   * two turns of the event loop (pg-boss issues some queries without awaiting them, such as
   * the completion of a batch right after its handler returns). Gives up after timeoutMs.
   */
  drain(busy?: () => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * pg-boss on our own database (PGlite or PostgreSQL), so that a job is written by the same
 * transaction as the record that causes it: it exists iff that record committed.
 */
export async function startQueue(executor: SqlExecutor, opts: QueueOptions, logger: Logger): Promise<Queue> {
  // Every query pg-boss runs through the pool is counted, so that shutdown can wait for the
  // ones it does not await before the database is closed.
  let pending = 0;
  const tracked: SqlExecutor = {
    async executeSql(text, values) {
      pending++;
      try {
        return await executor.executeSql(text, values);
      } finally {
        pending--;
      }
    },
  };
  const nextTurn = () => new Promise<void>((r) => setImmediate(r));
  async function drain(busy: () => boolean = () => false, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quietTurns = 0;
    while (quietTurns < 2 && Date.now() < deadline) {
      await nextTurn();
      if (pending === 0 && !busy()) quietTurns++;
      else {
        quietTurns = 0;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    if (quietTurns < 2) logger.warn({ pending }, 'job queue still busy at shutdown');
  }

  const boss = new PgBoss({
    db: tracked,
    schedule: false,
    supervise: true,
    migrate: true,
    maintenanceIntervalSeconds: opts.maintenanceIntervalSeconds,
  } as ConstructorParameters<typeof PgBoss>[0]);
  boss.on('error', (err: Error) => logger.error({ err }, 'job queue error'));
  await boss.start();
  await boss.createQueue(NOTIFY_QUEUE, {
    name: NOTIFY_QUEUE,
    retryLimit: opts.retryLimit,
    retryDelay: opts.retryDelaySeconds,
    retryBackoff: true,
    expireInSeconds: opts.expireInSeconds,
  });
  // createQueue keeps an existing queue's policy; later configuration changes must still apply.
  await boss.updateQueue(NOTIFY_QUEUE, {
    name: NOTIFY_QUEUE,
    retryLimit: opts.retryLimit,
    retryDelay: opts.retryDelaySeconds,
    retryBackoff: true,
    expireInSeconds: opts.expireInSeconds,
  } as Parameters<PgBoss['updateQueue']>[1]);

  return {
    boss,
    async enqueueNotifications(txExecutor, ids, opts = {}) {
      if (ids.length === 0) return;
      // pg-boss reads a startAfter without a zone as an interval from the database's now().
      const startAfter = opts.delaySeconds ? String(Math.max(1, Math.round(opts.delaySeconds))) : undefined;
      await boss.insert(
        ids.map((id) => ({ name: NOTIFY_QUEUE, data: { notificationId: id }, ...(startAfter ? { startAfter } : {}) })),
        { db: txExecutor } as Parameters<PgBoss['insert']>[1],
      );
    },
    drain,
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000, close: false } as Parameters<PgBoss['stop']>[0]);
      await drain();
    },
  };
}
