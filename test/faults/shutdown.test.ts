import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { STAFF, futureWindow, startHarness, testDbKind, type Harness } from '../helpers/harness.js';
import { newPhone, settled } from '../helpers/apply.js';

/** Staff invitations (each queues an SMS and a WeChat message to its visitor), created through the API. */
async function invite(h: Harness, count: number): Promise<number[]> {
  const ids: number[] = [];
  const token = await h.bound(`shutdown-${Math.random().toString(36).slice(2)}`, STAFF.zhangwei.phone);
  for (let i = 0; i < count; i++) {
    const r = await h.request('POST', '/v1/subject', {
      token,
      body: { name: `访客${i}`, phone: newPhone(), interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
    });
    expect(r.status).toBe(200);
    ids.push(r.body.data.id);
  }
  return ids;
}

/**
 * Closing the service while the notification worker is claiming, sending or recording must leave
 * nothing running against the closed database (a query reaching a closed pool is an unhandled
 * rejection), and nothing half-done: every row is either recorded or still pending for the next
 * start, never lost.
 */
describe('shutdown with notifications in flight', () => {
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
    // Sends take 40 ms, and the close lands before, during and after claims, sends and records.
    const delays = [0, 20, 60, 300];
    for (const delayMs of delays) {
      const h = await startHarness({ env: { NOTIFY_BATCH_SIZE: '7' } });
      h.sims.sms.server.setFault({ delay_ms: 40 } as Parameters<typeof h.sims.sms.server.setFault>[0]);
      h.sims.cloud.server.setFault({ delay_ms: 40 } as Parameters<typeof h.sims.cloud.server.setFault>[0]);
      await invite(h, 10);
      await new Promise((r) => setTimeout(r, delayMs));
      await h.close();
      // Anything left unawaited would surface within a few turns of the event loop.
      await new Promise((r) => setTimeout(r, 30));
      expect(rejections.map(String), `close after ${delayMs} ms`).toEqual([]);
    }
  }, 120_000);

  // On PostgreSQL the worker can be held inside a claim: a lock on the notifications table
  // blocks it, the service is told to close, then the lock is released and the claim returns
  // rows to a worker that was told to stop. They are sent and recorded before the close ends.
  it.runIf(testDbKind() === 'pg')(
    'closes cleanly when told to stop in the middle of a claim',
    async () => {
      const h = await startHarness({ env: { UPKEEP_INTERVAL_S: '86400' } });
      const [first] = await settled(h, (await invite(h, 1))[0]!);
      const url = h.runtime.config.databaseUrl;
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      // Closing the harness drops its database, which ends this connection.
      locker.on('error', () => undefined);
      try {
        // Three more rows, written under a lock that holds the worker's next claim until they commit.
        await locker.query('begin');
        await locker.query('lock table notifications in exclusive mode');
        const phones = [newPhone(), newPhone(), newPhone()];
        for (const phone of phones) {
          await locker.query(
            `insert into notifications (application_id, event, channel, phone, template, payload, created_at)
           select application_id, event, channel, $2, template, payload, now() from notifications where id = $1`,
            [first!.id, phone],
          );
        }
        // The worker's claim waits for the lock (upkeep's VACUUM, which would wait too, is off here;
        // the activity's text can still show the connection's previous statement while it waits).
        await h.waitFor(
          async () => {
            const r = await locker.query(
              "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
            );
            return r.rows[0].n > 0;
          },
          { what: 'the worker to be blocked in a claim' },
        );
        // And the worker's next poll (every 500 ms) is certainly among the waiters.
        await new Promise((r) => setTimeout(r, 1200));
        const closing = h.close();
        await new Promise((r) => setTimeout(r, 200));
        await locker.query('commit');
        await closing;
        await new Promise((r) => setTimeout(r, 100));
        expect(rejections.map(String)).toEqual([]);
        // What the blocked claim took was sent before the close ended (the rows are SMS or WeChat
        // messages, as the copied one was).
        const received = [...h.sims.sms.messages().map((m) => m.phone), ...h.sims.cloud.messages().map((m) => m.phone)];
        expect(phones.map((p) => received.filter((x) => x === p).length)).toEqual([1, 1, 1]);
      } finally {
        await locker.end().catch(() => undefined);
      }
    },
    60_000,
  );
});
