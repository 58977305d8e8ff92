import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClock } from '../helpers/apply.js';
import { aStaff, anApplication } from '../helpers/factories.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { generateVisits } from '../../bench/lib/ledger-data.js';
import { adminLogin, expectError } from './helpers.js';
import { download, expectSameRows, exportDone, listingAll, parseCsv, parseXlsx } from './ledger-helpers.js';

// docs/api-contract-admin.md "Visit ledger export": POST /v1/admin/exports, GET /v1/admin/exports/{id}[/file].

let h: Harness;
const clock = new TestClock();
let admin: { token: string; id: number; username: string; password: string };
const END = Math.floor(Date.now() / 1000) + 2 * 86_400;

beforeAll(async () => {
  // Batches of 10: the 300 records below take several, with progress after each.
  h = await startHarness({ now: clock.now, env: { LEDGER_EXPORT_BATCH: '10' } });
  admin = await adminLogin(h);
  await generateVisits(h.database.db, { count: 300, end: END, days: 20 });
  // One through the API too: a company a spreadsheet would run, and a companion.
  const lina = await aStaff(h, 'lina');
  await anApplication(h, { by: lina, retinues: 1, body: { come_from: '=cmd|" /C calc"!A0' } });
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const auditOf = async (action: string) =>
  (await h.request('GET', `/v1/audit?action=${action}&size=50`, { token: admin.token })).body.data as Array<{
    target_id: string;
    detail: any;
    actor_id: string;
  }>;

describe('visit ledger export', () => {
  it('.csv: the listing’s records under the same filters, in its order, phones masked, with progress', async () => {
    const filters = { interviewee: '李娜', is_auth: 1 as const };
    const done = await exportDone(h, admin.token, { format: 'csv', filters });
    const listed = await listingAll(h, admin.token, filters);
    expect(listed.length).toBeGreaterThan(10);
    expect(done).toMatchObject({ status: 'done', format: 'csv', full_phones: false, rows_total: listed.length, rows_done: listed.length, filters });
    const file = await download(h, admin.token, done.id);
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(String(file.headers['content-disposition'])).toContain("filename*=UTF-8''%E8%AE%BF%E5%AE%A2%E5%8F%B0%E8%B4%A6");
    expect(file.bytes.length).toBe(done.bytes);
    expectSameRows(parseCsv(file.bytes), listed, false);
    // Masked: no mainland mobile number in full anywhere in the file.
    expect(file.bytes.toString('utf8')).not.toMatch(/(?<!\d)1[3-9]\d{9}(?!\d)/);
  });

  it('.xlsx (parsed back with ExcelJS): every record, the same cells as the listing', async () => {
    const done = await exportDone(h, admin.token, { format: 'xlsx' });
    const listed = await listingAll(h, admin.token, {});
    expect(listed.length).toBe(301);
    expect(done.rows_done).toBe(301);
    const file = await download(h, admin.token, done.id);
    expect(file.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expectSameRows(await parseXlsx(file.bytes), listed, false);
  });

  it('cells that start with = + - @ or a tab are neutralised with a leading apostrophe', async () => {
    const done = await exportDone(h, admin.token, { format: 'xlsx' });
    const rows = (await parseXlsx((await download(h, admin.token, done.id)).bytes)).slice(1);
    const cells = rows.flat();
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);
    expect(cells).toContain(`'=HYPERLINK("http://x","点我")`);
    expect(cells).toContain(`'=cmd|" /C calc"!A0`);
    expect(cells).toContain("'+86钱七");
    expect(cells).toContain("'@吴十");
    expect(cells).toContain("'\t制表公司");
    expect(cells).toContain("'=SUM(A1:A9)");
  });

  it('full phones need a reason; then the file has them and the audit log says who, why, what and how many', async () => {
    expectError(await h.request('POST', '/v1/admin/exports', { token: admin.token, body: { format: 'csv', full_phones: true } }), 400, 'VALIDATION_FAILED');
    expectError(
      await h.request('POST', '/v1/admin/exports', { token: admin.token, body: { format: 'csv', full_phones: true, reason: ' ' } }),
      400,
      'VALIDATION_FAILED',
    );
    const filters = { phone: '137 0000 0010' };
    const done = await exportDone(h, admin.token, { format: 'csv', full_phones: true, reason: '派出所调取台账', filters });
    const listed = await listingAll(h, admin.token, filters);
    expect(listed.map((r) => r.phone)).toEqual(['13700000010']);
    const rows = parseCsv((await download(h, admin.token, done.id)).bytes);
    expectSameRows(rows, listed, true);
    expect(rows[1]![3]).toBe('13700000010');

    const asked = (await auditOf('ledger.export')).find((e) => e.target_id === String(done.id))!;
    expect(asked.actor_id).toBe(String(admin.id));
    expect(asked.detail).toEqual({ format: 'csv', full_phones: true, reason: '派出所调取台账', filters: { phone: '137****0010' } });
    const finished = (await auditOf('ledger.export.done')).find((e) => e.target_id === String(done.id))!;
    expect(finished.detail).toMatchObject({ rows: 1, full_phones: true, filters: { phone: '137****0010' } });
    const fetched = (await auditOf('ledger.download')).find((e) => e.target_id === String(done.id))!;
    expect(fetched.detail).toEqual({ rows: 1, full_phones: true });
    // A masked export is audited too, as masked.
    const masked = (await auditOf('ledger.export')).filter((e) => e.detail.full_phones === false);
    expect(masked.length).toBeGreaterThan(0);
  });

  it('refuses bad filters as the listing does; another admin sees no export of mine', async () => {
    const bad = { format: 'csv', filters: { phone: '12345' } };
    expectError(await h.request('POST', '/v1/admin/exports', { token: admin.token, body: bad }), 400, 'VALIDATION_FAILED');
    expectError(await h.request('POST', '/v1/admin/exports', { token: admin.token, body: { format: 'pdf' } }), 400, 'VALIDATION_FAILED');
    const reversed = { format: 'csv', filters: { start_time: 200, end_time: 100 } };
    expectError(await h.request('POST', '/v1/admin/exports', { token: admin.token, body: reversed }), 400, 'VALIDATION_FAILED');
    expectError(await h.request('POST', '/v1/admin/exports', { body: { format: 'csv' } }), 401, 'UNAUTHENTICATED');
    const done = await exportDone(h, admin.token, { format: 'csv', filters: { name: '孙八' } });
    const other = await adminLogin(h);
    expectError(await h.request('GET', `/v1/admin/exports/${done.id}`, { token: other.token }), 404, 'NOT_FOUND');
    expect((await download(h, other.token, done.id)).status).toBe(404);
    const mine = await h.request('GET', '/v1/admin/exports', { token: admin.token });
    expect(mine.body.data.map((e: { id: number }) => e.id)).toContain(done.id);
    expect((await h.request('GET', '/v1/admin/exports', { token: other.token })).body.data).toEqual([]);
  });

  it('is gone after LEDGER_EXPORT_KEEP_H (24 h): 404 at once, its rows and pieces deleted by the retention sweep', async () => {
    const done = await exportDone(h, admin.token, { format: 'csv', filters: { name: '郑十一' } });
    clock.advance(24 * 3600 + 1);
    // Admin tokens last 12 hours: the same admin logs in again.
    const login = await h.request('POST', '/v1/admin/session', { body: { username: admin.username, password: admin.password } });
    admin.token = login.body.data.token;
    expectError(await h.request('GET', `/v1/admin/exports/${done.id}`, { token: admin.token }), 404, 'NOT_FOUND');
    const swept = await h.runtime.retention.sweep();
    expect(swept.ledgerExports).toBeGreaterThan(0);
    const left = await h.database.db.execute(sql`select count(*)::int as n from ledger_export_chunks where export_id = ${done.id}`);
    expect(Number(((left as any).rows ?? left)[0].n)).toBe(0);
  });
});
