import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { generateVisits } from '../../bench/lib/ledger-data.js';
import { adminLogin, expectError } from './helpers.js';

// docs/api-contract-admin.md "Statistics": GET /v1/admin/stats, checked against the listing and
// against the same numbers worked out here from the raw rows.

let h: Harness;
let token: string;
const NOW = Math.floor(Date.now() / 1000);
const END = NOW + 2 * 86_400;
const FROM = END - 15 * 86_400;
const TO = END - 3 * 86_400;

type Row = Record<string, any>;
let rows: Row[];
let departments: Map<string, string>;

const rowsOf = (r: unknown) => ((r as { rows?: unknown[] }).rows ?? r) as Row[];
const n = (v: unknown) => (v === null ? null : Number(v));
const median = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const countBy = <T>(xs: T[], key: (x: T) => string | null) => {
  const m = new Map<string | null, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return Object.fromEntries([...m].map(([k, v]) => [String(k), v]));
};
const asMap = (top: Array<{ key: string | null; visits: number }>) => Object.fromEntries(top.map((t) => [String(t.key), t.visits]));
const day = (t: number) => Math.floor((t + 28_800) / 86_400);

beforeAll(async () => {
  h = await startHarness();
  token = (await adminLogin(h)).token;
  await generateVisits(h.database.db, { count: 600, end: END, days: 20 });
  rows = rowsOf(await h.database.db.execute(sql`select * from applications`)).map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^(start|end|auth|created|signin|signout)_time|created_at$/.test(k) ? Number(v) : v]),
    ),
  );
  for (const r of rows) for (const k of ['start_time', 'end_time', 'auth_time', 'created_at', 'signin_time', 'signout_time']) r[k] = n(r[k]);
  departments = new Map(rowsOf(await h.database.db.execute(sql`select phone, department from staff_cache`)).map((r) => [r.phone, r.department]));
}, 120_000);
afterAll(async () => {
  await h?.close();
});

const stats = (q: string) => h.request('GET', `/v1/admin/stats?${q}`, { token });

describe('GET /v1/admin/stats', () => {
  it('equals the listing’s count and the numbers worked out from the rows', async () => {
    const res = await stats(`from=${FROM}&to=${TO}&top=50`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const s = res.body.data;
    const inRange = rows.filter((r) => r.end_time >= FROM && r.start_time <= TO);
    const listing = await h.request('GET', `/v1/visit/records?type=web&start_time=${FROM}&end_time=${TO}&size=1`, { token });
    expect(s.totals.visits).toBe(listing.body.page.count);
    expect(s.totals.visits).toBe(inRange.length);

    const approved = inRange.filter((r) => r.kind === 'request' && r.is_auth === 1 && r.auth_time !== null);
    const stays = inRange.filter((r) => r.signin_time !== null && r.signout_time !== null);
    const requests = inRange.filter((r) => r.kind === 'request').length;
    expect(s.totals).toMatchObject({
      invitations: inRange.filter((r) => r.kind === 'invitation').length,
      requests,
      approved_requests: approved.length,
      pending: inRange.filter((r) => r.is_auth === 0).length,
      signed_in: inRange.filter((r) => r.signin_time !== null).length,
      no_shows: inRange.filter((r) => r.is_auth === 1 && r.signin_time === null && r.end_time < NOW).length,
      stays: stays.length,
    });
    expect(s.totals.no_shows).toBeGreaterThan(0);
    expect(s.totals.approval_rate).toBeCloseTo(approved.length / requests, 9);
    expect(s.totals.approve_avg_s).toBeCloseTo(avg(approved.map((r) => r.auth_time - r.created_at))!, 6);
    expect(s.totals.approve_median_s).toBeCloseTo(median(approved.map((r) => r.auth_time - r.created_at))!, 6);
    expect(s.totals.stay_avg_s).toBeCloseTo(avg(stays.map((r) => r.signout_time - r.signin_time))!, 6);
    expect(s.totals.stay_median_s).toBeCloseTo(median(stays.map((r) => r.signout_time - r.signin_time))!, 6);

    const dateOf = (d: number) => new Date(d * 86_400_000).toISOString().slice(0, 10);
    const perDay = countBy(inRange, (r) => dateOf(day(Math.max(r.start_time, FROM))));
    expect(Object.fromEntries(s.series.map((x: any) => [x.date, x.visits]))).toEqual(perDay);

    expect(asMap(s.by_purpose.top)).toEqual(countBy(inRange, (r) => r.purpose_name || null));
    expect(asMap(s.by_company.top)).toEqual(countBy(inRange, (r) => r.come_from || null));
    expect(asMap(s.by_host.top)).toEqual(countBy(inRange, (r) => r.interviewee_phone));
    expect(asMap(s.by_department.top)).toEqual(countBy(inRange, (r) => departments.get(r.interviewee_phone) || null));
    expect(s.by_host.top.find((t: any) => t.key === '13800000002').label).toBe('李娜');
    for (const g of ['by_purpose', 'by_company', 'by_host', 'by_department']) expect(s[g].rest).toBe(0);

    const signins = inRange.filter((r) => r.signin_time !== null);
    const heat = countBy(signins, (r) => `${(day(r.signin_time) + 3) % 7}/${Math.floor(((r.signin_time + 28_800) % 86_400) / 3600)}`);
    expect(Object.fromEntries(s.peak_hours.map((p: any) => [`${p.weekday}/${p.hour}`, p.signins]))).toEqual(heat);

    const open = rows.filter((r) => r.signin_time !== null && r.signout_time === null).length;
    expect(s.on_site_now).toEqual({ visits: open, people: 0 });
  });

  it('weeks start on Monday and add up to the total; a short ranking leaves the rest', async () => {
    const s = (await stats(`from=${FROM}&to=${TO}&group=week&top=2`)).body.data;
    expect(s.series.reduce((a: number, x: any) => a + x.visits, 0)).toBe(s.totals.visits);
    for (const x of s.series) expect(new Date(`${x.date}T00:00:00Z`).getUTCDay()).toBe(1);
    expect(s.by_purpose.top).toHaveLength(2);
    expect(s.by_purpose.top[0].visits).toBeGreaterThanOrEqual(s.by_purpose.top[1].visits);
    expect(s.by_purpose.rest + s.by_purpose.top[0].visits + s.by_purpose.top[1].visits).toBe(s.totals.visits);
  });

  it('refuses a reversed or too long range, and anyone but an admin', async () => {
    expectError(await stats(`from=${TO}&to=${FROM}`), 400, 'VALIDATION_FAILED');
    expectError(await stats(`from=0&to=${TO}`), 400, 'VALIDATION_FAILED');
    expectError(await stats(`from=1e3&to=${TO}`), 400, 'VALIDATION_FAILED');
    expectError(await stats(`to=${TO}`), 400, 'VALIDATION_FAILED');
    expectError(await h.request('GET', `/v1/admin/stats?from=${FROM}&to=${TO}`), 401, 'UNAUTHENTICATED');
  });
});
