import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQueue } from '../../src/db/queue.js';
import { startHarness, testLogger, type Harness } from '../helpers/harness.js';

// A database written before migration 0004 (the outbox) also holds a pg-boss queue `notify`
// with a job per notification. The notifications rows are the outbox: the service deletes that
// queue and its jobs when it starts.

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe('upgrading a database from before the outbox', () => {
  it('deletes the old notify queue and its jobs at start', async () => {
    const boss = h.runtime.queue.boss;
    await boss.createQueue('notify', { name: 'notify' } as Parameters<typeof boss.createQueue>[1]);
    await boss.insert([1, 2, 3].map((n) => ({ name: 'notify', data: { notificationId: 1_000_000 + n } })));
    const jobs = async () => {
      const r = (await h.database.db.execute(sql`select count(*)::int as n from pgboss.job where name = 'notify'`)) as unknown as {
        rows: Array<{ n: number }>;
      };
      return r.rows[0]!.n;
    };
    expect(await jobs()).toBe(3);

    // What a restart of the service runs.
    const queue = await startQueue(h.database.executor, { maintenanceIntervalSeconds: 60 }, testLogger('silent'));
    await queue.stop();

    expect(await boss.getQueue('notify')).toBeNull();
    expect(await jobs()).toBe(0);
  });
});
