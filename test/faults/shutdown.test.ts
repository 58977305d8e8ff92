import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startHarness, testDbKind } from '../helpers/harness.js';

/**
 * Closing the service while the notification worker is fetching, handling or completing a
 * batch must leave nothing running against the closed database: pg-boss issues some queries
 * without awaiting them, and one reaching a closed pool is an unhandled rejection.
 */
describe('shutdown with notification jobs in flight', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => {
    process.off('unhandledRejection', onRejection);
  });

  it('closes cleanly at any moment of the worker loop', async () => {
    // Delays spread over one polling interval (500 ms), so that the close lands before, during
    // and after a fetch, a batch and its completion.
    const delays = [0, 60, 520];
    for (const delayMs of delays) {
      const h = await startHarness({ env: { NOTIFY_BATCH_SIZE: '7' } });
      // Jobs for notifications that do not exist: each is claimed, found finished, and completed.
      await h.runtime.queue.enqueueNotifications(h.database.executor, Array.from({ length: 40 }, (_, i) => 1_000_000 + i));
      await new Promise((r) => setTimeout(r, delayMs));
      await h.close();
      // Anything left unawaited would surface within a few turns of the event loop.
      await new Promise((r) => setTimeout(r, 30));
      expect(rejections.map(String), `close after ${delayMs} ms`).toEqual([]);
    }
  }, 120_000);

  // On PostgreSQL the worker can be held inside a fetch: a lock on pg-boss's job table blocks
  // it, the service is told to close, then the lock is released and the fetch returns a batch
  // to a worker that was told to stop.
  it.runIf(testDbKind() === 'pg')('closes cleanly when told to stop in the middle of a fetch', async () => {
    const h = await startHarness();
    await h.runtime.queue.enqueueNotifications(h.database.executor, [2_000_001, 2_000_002, 2_000_003]);
    const url = h.runtime.config.databaseUrl;
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table pgboss.job in access exclusive mode');
      await h.waitFor(
        async () => {
          const r = await locker.query(
            "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
          );
          return r.rows[0].n > 0;
        },
        { what: 'the worker to be blocked in a fetch' },
      );
      const closing = h.close();
      await new Promise((r) => setTimeout(r, 200));
      await locker.query('commit');
      await locker.end();
      await closing;
      await new Promise((r) => setTimeout(r, 100));
      expect(rejections.map(String)).toEqual([]);
    } finally {
      await locker.end().catch(() => undefined);
    }
  }, 60_000);
});
