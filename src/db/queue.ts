import PgBoss from 'pg-boss';
import type { SqlExecutor } from './client.js';
import type { Logger } from '../log.js';

/** The queue notifications had before they became an outbox of their own (migration 0004); deleted at start. */
const OLD_NOTIFY_QUEUE = 'notify';

export interface QueueOptions {
  /** How often expired jobs are looked for. */
  maintenanceIntervalSeconds: number;
}

export interface Queue {
  boss: PgBoss;
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
 * transaction as the record that causes it: it exists iff that record committed. It carries the
 * Koala visitor writes (jobs/koala-sync.ts); notifications have their own outbox.
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
  // Notifications were one job each on this queue until the notifications table became their
  // outbox: its rows are sent from there (pending ones included), so the queue and any job
  // still on it go.
  // (pg-boss 10's delete_queue fails on its foreign key while the queue still holds jobs.)
  if (await boss.getQueue(OLD_NOTIFY_QUEUE)) {
    await executor.executeSql('DELETE FROM pgboss.job WHERE name = $1', [OLD_NOTIFY_QUEUE]);
    await boss.deleteQueue(OLD_NOTIFY_QUEUE);
  }

  return {
    boss,
    drain,
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000, close: false } as Parameters<PgBoss['stop']>[0]);
      await drain();
    },
  };
}
