import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOT_TABLES, startUpkeep } from '../../src/db/upkeep.js';
import { startHarness, STAFF, futureWindow, testDbKind, type Harness } from '../helpers/harness.js';

// The queue and counter tables are vacuumed by the service itself (PGlite has no
// autovacuum; PostgreSQL's comes too late for pg-boss's fetch). Dead rows are made by real
// traffic here: applications whose notifications (the outbox) the worker claims, sends and records.

let h: Harness;

async function deadRows(table: string): Promise<number> {
  const r = (await h.database.db.execute(
    sql.raw(
      `select coalesce(sum(n_dead_tup), 0)::int as n from pg_stat_user_tables where relid in (select '${table}'::regclass union all select inhrelid from pg_inherits where inhparent = '${table}'::regclass)`,
    ),
  )) as unknown as { rows: Array<{ n: number }> };
  return r.rows[0]!.n;
}

beforeAll(async () => {
  // The service's own rounds would race the counts below: this file runs them itself.
  h = await startHarness({ env: { APPLY_PER_HOUR: '1000', UPKEEP_INTERVAL_S: '86400' }, sms: { limits: null } });
});
afterAll(async () => h?.close());

describe('table upkeep (VACUUM)', () => {
  it('vacuums the outbox, counter and application tables: dead rows gone, application pages all-visible', async () => {
    const token = await h.bound('upkeep-host', STAFF.zhangwei.phone);
    for (let i = 0; i < 8; i++) {
      const res = await h.request('POST', '/v1/subject', {
        token,
        body: {
          name: `清理${i}`,
          phone: `1390000${String(9100 + i)}`,
          interviewee: STAFF.zhangwei.name,
          interviewee_phone: STAFF.zhangwei.phone,
          ...futureWindow(2),
        },
      });
      expect(res.status).toBe(200);
    }
    await h.waitFor(
      async () => {
        const r = (await h.database.db.execute(sql`select count(*)::int as n from notifications where status = 'pending'`)) as unknown as {
          rows: Array<{ n: number }>;
        };
        return r.rows[0]!.n === 0;
      },
      { what: 'the notifications sent', timeoutMs: 30_000 },
    );
    // The statistics of other sessions' changes arrive within a moment.
    await h.waitFor(async () => (await deadRows('notifications')) > 0, { what: 'dead rows counted', timeoutMs: 10_000 });

    const upkeep = startUpkeep({ database: h.database, logger: h.runtime.logger, autoStart: false });
    const visibility = async () =>
      (
        (await h.database.db.execute(
          sql`select relname, relpages, relallvisible from pg_class where relname in ('applications', 'application_people') order by relname`,
        )) as unknown as { rows: Array<{ relname: string; relpages: number; relallvisible: number }> }
      ).rows;
    let vis: Awaited<ReturnType<typeof visibility>> = [];
    try {
      expect(await upkeep.run()).toEqual([...HOT_TABLES]);
      // A snapshot still open when a round runs (a background job's transaction on a busy
      // machine) keeps the rows it could see: the next round removes them. So the rounds go on
      // until the dead rows are gone and the pages all-visible, as the timer's rounds would.
      await h.waitFor(
        async () => {
          vis = await visibility();
          if ((await deadRows('notifications')) === 0 && vis.every((r) => r.relallvisible === r.relpages)) return true;
          await upkeep.run();
          return false;
        },
        { what: 'no dead rows and all-visible pages after VACUUM', timeoutMs: 30_000 },
      );
    } finally {
      await upkeep.stop();
    }
    // The application tables' pages are all-visible: a phone's recent entries are read from
    // their indexes alone (the hourly limit, a record list's keys and count).
    expect(vis.map((r) => r.relname)).toEqual(['application_people', 'applications']);
    for (const r of vis) {
      expect(r.relpages, r.relname).toBeGreaterThan(0);
      expect(r.relallvisible, r.relname).toBe(r.relpages);
    }
  });

  it('the whole database on request (PGlite runs this every 15 minutes)', async () => {
    const upkeep = startUpkeep({ database: h.database, logger: h.runtime.logger, autoStart: false });
    try {
      expect(await upkeep.run({ all: true })).toEqual(['*']);
    } finally {
      await upkeep.stop();
    }
  });

  it.runIf(testDbKind() === 'pg')('on PostgreSQL one replica at a time: a round while another holds the turn does nothing', async () => {
    const other = new pg.Client({ connectionString: h.runtime.config.databaseUrl });
    await other.connect();
    const upkeep = startUpkeep({ database: h.database, logger: h.runtime.logger, autoStart: false });
    try {
      await other.query('select pg_advisory_lock($1)', [0x1af40003]);
      expect(await upkeep.run()).toEqual([]);
      await other.query('select pg_advisory_unlock($1)', [0x1af40003]);
      expect(await upkeep.run()).toEqual([...HOT_TABLES]);
    } finally {
      await upkeep.stop();
      await other.end();
    }
  });
});
