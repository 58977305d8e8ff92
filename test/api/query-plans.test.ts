import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { pageQuery } from '../../src/modules/applications/repo/list-pages.js';
import { futureWindow, STAFF, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The lists of 3.9 and 3.10 must be read from the caller's own index entries, already in
 * order: the page's LIMIT sits directly on an index scan (no Sort of the caller's entries),
 * whatever else the table holds. (PostgreSQL 16+ may sort the ≤ `size` rows of the page once
 * more for the ordered json_agg that returns them; that is not a sort of the caller's history.) The planner is told not to
 * scan sequentially (the tables here are tiny), so the assertion is about what the index can
 * serve, not about row estimates.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { APPLY_PER_HOUR: '1000' } });
  const host = await h.bound('wx-plan-host', STAFF.zhangwei.phone);
  for (let i = 0; i < 12; i++) {
    await h.request('POST', '/v1/subject', {
      token: host,
      body: { name: `访客${i}`, phone: `1390000${String(1000 + i)}`, interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
    });
  }
});
afterAll(async () => {
  await h?.close();
});

/** EXPLAINs the very statement the repo sends for this page (its values inlined). */
async function plan(query: { stmt: { text: string }; values: unknown[] }): Promise<string> {
  const {
    stmt: { text },
    values: params,
  } = query;
  const db = h.runtime.database.db;
  return db.transaction(async (tx) => {
    await tx.execute(sql`set local enable_seqscan = off`);
    await tx.execute(sql`set local enable_bitmapscan = off`);
    const literal = text.replace(/\$(\d+)/g, (_m, n: string) => {
      const v = params[Number(n) - 1];
      return typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`;
    });
    const res = (await tx.execute(sql.raw(`explain ${literal}`))) as unknown as { rows: Array<Record<string, string>> };
    return res.rows.map((r) => Object.values(r)[0]).join('\n');
  });
}

describe('query plans', () => {
  it('3.9 reads the caller’s entries of application_people_involving_idx in order (no sort)', async () => {
    const text = await plan(pageQuery('involving', '13900001005', {}, { page: 1, size: 5 }));
    expect(text).toMatch(/Limit[^\n]*\n\s*->\s+Index (Only )?Scan using application_people_involving_idx/);
    expect(text).toMatch(/Aggregate[^\n]*\n\s*->\s+Index (Only )?Scan using application_people_involving_idx/); // the count
  });

  it('3.10 reads applications_proposer_created_idx in order (no sort)', async () => {
    const text = await plan(pageQuery('proposed', STAFF.zhangwei.phone, {}, { page: 2, size: 5 }));
    expect(text).toMatch(/Limit[^\n]*\n\s*->\s+Index (Only )?Scan using applications_proposer_created_idx/);
    expect(text).toMatch(/Aggregate[^\n]*\n\s*->\s+Index (Only )?Scan using applications_proposer_created_idx/); // the count
  });
});
