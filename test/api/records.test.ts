import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, RECORD_KEYS, TestClock } from '../helpers/apply.js';
import { startHarness, type Harness } from '../helpers/harness.js';

// api-contract.md §3.9 (GET /v1/visit/records) and §3.10 (GET /v1/auth/records).

let h: Harness;
const clock = new TestClock();

interface Person {
  name: string;
  phone: string;
  openid: string;
  token: string;
}

/** Everyone of the scenario, each with a bound WeChat. */
const P = {} as Record<'hostA' | 'hostB' | 'hostC' | 'v1' | 'v2' | 'c1' | 'c2' | 'pager' | 'tie' | 'foreign' | 'outsider', Person>;
/** The scenario's records by name, as POST /v1/subject answered them. */
const R: Record<string, any> = {};

async function person(name: string, opts: { employee?: boolean } = {}): Promise<Person> {
  const phone = newPhone(opts.employee ? '136' : '139');
  if (opts.employee) h.sims.koala.addEmployee({ name, phone });
  const openid = newOpenid('wx');
  return { name, phone, openid, token: await h.bound(openid, phone) };
}

async function apply(by: Person, body: Record<string, unknown>): Promise<any> {
  const res = await h.request('POST', '/v1/subject', { token: by.token, body: { ...clock.window(24), ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** `visitor` asks to visit `host` (a visitor request). */
function request(visitor: Person, host: Person, retinues: Person[] = [], extra: Record<string, unknown> = {}) {
  return apply(visitor, {
    name: visitor.name,
    phone: visitor.phone,
    interviewee: host.name,
    interviewee_phone: host.phone,
    retinues: retinues.map((r) => ({ name: r.name, phone: r.phone })),
    ...extra,
  });
}

/** `host` invites `visitor` (a staff invitation). */
function invite(host: Person, visitor: Person, retinues: Person[] = []) {
  return apply(host, {
    name: visitor.name,
    phone: visitor.phone,
    interviewee: host.name,
    interviewee_phone: host.phone,
    retinues: retinues.map((r) => ({ name: r.name, phone: r.phone })),
  });
}

async function list(route: 'visit' | 'auth', who: Person, query = ''): Promise<any> {
  const res = await h.request('GET', `/v1/${route}/records${query ? `?${query}` : ''}`, { token: who.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const ids = (body: any): number[] => body.data.map((r: any) => r.id);
const involving = async (who: Person, query = 'size=100') => ids(await list('visit', who, query));
const proposed = async (who: Person, query = 'size=100') => ids(await list('auth', who, query));

beforeAll(async () => {
  h = await startHarness({ now: clock.now, env: { APPLY_PER_HOUR: '1000' }, sms: { limits: null } });
  // Employees first: the service scans Koala's directory once and remembers it.
  P.hostA = await person('周一', { employee: true });
  P.hostB = await person('吴二', { employee: true });
  P.hostC = await person('郑三', { employee: true });
  const hostF = await person('钱四', { employee: true });
  P.v1 = await person('访客一');
  P.v2 = await person('访客二');
  P.c1 = await person('同伴一');
  P.c2 = await person('同伴二');
  P.pager = await person('翻页人');
  P.tie = await person('同时人');
  P.foreign = await person('局外人');
  P.outsider = await person('旁观者');

  // One minute apart, so that creation order is unambiguous.
  R.r1 = await request(P.v1, P.hostA, [P.c1]);
  clock.advance(60);
  R.r2 = await invite(P.hostA, P.v2, [P.c1, P.c2]);
  clock.advance(60);
  R.r3 = await request(P.v2, P.hostB, [P.c2]);
  clock.advance(60);
  R.r4 = await invite(P.hostB, P.v1);
  clock.advance(60);
  R.r5 = await request(P.v1, P.hostB);
  clock.advance(60);
  // The foreign caller has records of their own, with strangers.
  const stranger = await person('陌生人');
  R.f1 = await request(P.foreign, hostF, [stranger]);
  clock.advance(60);
});
afterAll(async () => {
  await h?.close();
});

describe('who sees what', () => {
  it('3.9: where I am host, visitor or companion, and not the proposer; newest first', async () => {
    expect(await involving(P.hostA)).toEqual([R.r1.id]); // r2 is hostA's own invitation
    expect(await involving(P.hostB)).toEqual([R.r5.id, R.r3.id]); // r4 is hostB's own
    expect(await involving(P.v1)).toEqual([R.r4.id]); // r1, r5 are v1's own requests
    expect(await involving(P.v2)).toEqual([R.r2.id]); // r3 is v2's own
    expect(await involving(P.c1)).toEqual([R.r2.id, R.r1.id]);
    expect(await involving(P.c2)).toEqual([R.r3.id, R.r2.id]);
  });

  it('3.9: companions see staff invitations and visitor requests alike', async () => {
    const c1 = await list('visit', P.c1, 'size=100');
    expect(c1.data.map((r: any) => r.is_auth)).toEqual([1, 0]);
  });

  it('3.10: what I proposed; newest first', async () => {
    expect(await proposed(P.v1)).toEqual([R.r5.id, R.r1.id]);
    expect(await proposed(P.v2)).toEqual([R.r3.id]);
    expect(await proposed(P.hostA)).toEqual([R.r2.id]);
    expect(await proposed(P.hostB)).toEqual([R.r4.id]);
    expect(await proposed(P.c1)).toEqual([]);
  });

  it("nobody sees others' records", async () => {
    expect(await involving(P.outsider)).toEqual([]);
    expect(await proposed(P.outsider)).toEqual([]);
    expect(await involving(P.foreign)).toEqual([]);
    expect(await proposed(P.foreign)).toEqual([R.f1.id]);
    const scenario = [R.r1, R.r2, R.r3, R.r4, R.r5].map((r) => r.id);
    for (const who of [P.foreign, P.outsider]) {
      const seen = [...(await involving(who)), ...(await proposed(who))];
      expect(seen.filter((id) => scenario.includes(id))).toEqual([]);
    }
    for (const who of [P.hostA, P.hostB, P.v1, P.v2, P.c1, P.c2]) {
      const seen = [...(await involving(who)), ...(await proposed(who))];
      expect(seen).not.toContain(R.f1.id);
    }
  });

  it('an empty list is a list: data [] and page {count 0, current 1, size 5, total 0}', async () => {
    const body = await list('visit', P.outsider);
    expect(body).toEqual({ code: 0, err_msg: '', data: [], page: { count: 0, current: 1, size: 5, total: 0 } });
  });
});

describe('the record (§4)', () => {
  it('has exactly the §4 fields, the same in 3.7, 3.9 and 3.10, with retinues in order', async () => {
    const fromVisit = (await list('visit', P.c1, 'size=100')).data.find((r: any) => r.id === R.r2.id);
    const fromAuth = (await list('auth', P.hostA, 'size=100')).data.find((r: any) => r.id === R.r2.id);
    expect(Object.keys(fromVisit).sort()).toEqual(RECORD_KEYS);
    expect(fromVisit).toEqual(R.r2);
    expect(fromAuth).toEqual(R.r2);
    expect(fromVisit).toEqual({
      id: R.r2.id,
      subject_type: 1,
      name: P.v2.name,
      phone: P.v2.phone,
      purpose: 0,
      purpose_name: '其他',
      come_from: '',
      remark: '',
      proposer: P.hostA.phone,
      interviewee: P.hostA.name,
      interviewee_phone: P.hostA.phone,
      start_time: R.r2.start_time,
      end_time: R.r2.end_time,
      is_auth: 1,
      auth_time: R.r2.created_at,
      created_at: R.r2.created_at,
      retinues: [
        { name: P.c1.name, phone: P.c1.phone },
        { name: P.c2.name, phone: P.c2.phone },
      ],
      status: 'approved',
      status_reason: '',
      signin_time: null,
      signout_time: null,
    });
    for (const k of ['id', 'subject_type', 'purpose', 'start_time', 'end_time', 'is_auth', 'auth_time', 'created_at']) {
      expect(Number.isInteger(fromVisit[k]), k).toBe(true);
    }
  });

  it('a visitor request reads is_auth 0 and auth_time null', async () => {
    const r = (await list('visit', P.hostA, 'size=100')).data[0];
    expect(r).toEqual(R.r1);
    expect(r).toMatchObject({ is_auth: 0, auth_time: null, proposer: P.v1.phone, retinues: [{ name: P.c1.name, phone: P.c1.phone }] });
  });
});

describe('order and paging', () => {
  const made: number[] = []; // pager's requests to hostC, oldest first

  beforeAll(async () => {
    for (let i = 0; i < 12; i++) {
      made.push((await request(P.pager, P.hostC, [], { remark: `#${i}` })).id);
      clock.advance(7);
    }
  });

  it('defaults: page 1, size 5, newest first, with the page object', async () => {
    const newest = [...made].reverse();
    const body = await list('auth', P.pager);
    expect(ids(body)).toEqual(newest.slice(0, 5));
    expect(body.page).toEqual({ count: 12, current: 1, size: 5, total: 3 });
    expect(body.code).toBe(0);
    expect(body.err_msg).toBe('');
  });

  it.each(['auth', 'visit'] as const)('%s: pages cover the list once, in order; past the end is empty', async (route) => {
    const who = route === 'auth' ? P.pager : P.hostC;
    const newest = [...made].reverse();
    const pages: number[][] = [];
    for (let page = 1; page <= 3; page++) {
      const body = await list(route, who, `page=${page}&size=5`);
      expect(body.page).toEqual({ count: 12, current: page, size: 5, total: 3 });
      pages.push(ids(body));
    }
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat()).toEqual(newest);
    const beyond = await list(route, who, 'page=4&size=5');
    expect(beyond.data).toEqual([]);
    expect(beyond.page).toEqual({ count: 12, current: 4, size: 5, total: 3 });
    const all = await list(route, who, 'size=100');
    expect(ids(all)).toEqual(newest);
    expect(all.page).toEqual({ count: 12, current: 1, size: 100, total: 1 });
    const ones = await list(route, who, 'size=1&page=12');
    expect(ids(ones)).toEqual([made[0]]);
    expect(ones.page).toEqual({ count: 12, current: 12, size: 1, total: 12 });
  });

  it('newest by creation time first, not by id', async () => {
    // Created later (higher id) but with an earlier creation time.
    const later = await request(P.tie, P.hostB, [], { remark: 'later' });
    clock.advance(-3600);
    const earlier = await request(P.tie, P.hostB, [], { remark: 'earlier' });
    clock.advance(3600);
    expect(earlier.id).toBeGreaterThan(later.id);
    expect(earlier.created_at).toBeLessThan(later.created_at);
    expect(await proposed(P.tie)).toEqual([later.id, earlier.id]);
    const hostB = await involving(P.hostB);
    expect(hostB.indexOf(later.id)).toBeLessThan(hostB.indexOf(earlier.id));
  });

  it('equal creation times: the higher id first', async () => {
    clock.advance(600);
    clock.freeze();
    const made3: any[] = [];
    try {
      for (let i = 0; i < 3; i++) made3.push(await request(P.tie, P.hostB, [P.c2], { remark: `tie ${i}` }));
    } finally {
      clock.thaw();
    }
    expect(new Set(made3.map((r) => r.created_at)).size).toBe(1);
    const expected = made3.map((r) => r.id).reverse();
    expect((await proposed(P.tie)).slice(0, 3)).toEqual(expected);
    expect((await involving(P.c2)).slice(0, 3)).toEqual(expected);
    // Paging through the tie keeps the order.
    const p1 = await proposed(P.tie, 'size=2&page=1');
    const p2 = await proposed(P.tie, 'size=2&page=2');
    expect([...p1, ...p2].slice(0, 3)).toEqual(expected);
  });
});

describe('is_auth filter', () => {
  it('filters both lists and the counts; authorizing moves a record from 0 to 1', async () => {
    const before1 = await list('auth', P.pager, 'is_auth=1&size=100');
    expect(before1.data).toEqual([]);
    expect(before1.page.count).toBe(0);
    const all0 = await list('auth', P.pager, 'is_auth=0&size=100');
    expect(all0.page.count).toBe(12);
    const chosen = all0.data.slice(0, 4).map((r: any) => r.id);
    for (const id of chosen) {
      const res = await h.request('PUT', `/v1/auth/${id}`, { token: P.hostC.token });
      expect(res.status).toBe(200);
    }
    const auth1 = await list('auth', P.pager, 'is_auth=1&size=100');
    expect(ids(auth1)).toEqual(chosen);
    expect(auth1.page).toEqual({ count: 4, current: 1, size: 100, total: 1 });
    expect(auth1.data.every((r: any) => r.is_auth === 1 && Number.isInteger(r.auth_time))).toBe(true);
    const auth0 = await list('auth', P.pager, 'is_auth=0&size=100');
    expect(auth0.page.count).toBe(8);
    expect(auth0.data.every((r: any) => r.is_auth === 0 && r.auth_time === null)).toBe(true);
    const host1 = await list('visit', P.hostC, 'is_auth=1&size=3');
    expect(ids(host1)).toEqual(chosen.slice(0, 3));
    expect(host1.page).toEqual({ count: 4, current: 1, size: 3, total: 2 });
    const host0 = await list('visit', P.hostC, 'is_auth=0');
    expect(host0.page).toEqual({ count: 8, current: 1, size: 5, total: 2 });
  });

  it('3.9 with is_auth on a companion: invitations are 1, requests 0', async () => {
    expect(await involving(P.c1, 'is_auth=1')).toEqual([R.r2.id]);
    expect(await involving(P.c1, 'is_auth=0')).toEqual([R.r1.id]);
  });
});

describe('query validation: 400 naming the parameter', () => {
  const bad: Array<[string, string]> = [
    ['page=0', 'page'],
    ['page=-1', 'page'],
    ['page=abc', 'page'],
    ['page=1.5', 'page'],
    ['page=', 'page'],
    ['page=99999999999999999999', 'page'],
    ['size=0', 'size'],
    ['size=101', 'size'],
    ['size=-5', 'size'],
    ['size=2.5', 'size'],
    ['size=ten', 'size'],
    ['is_auth=2', 'is_auth'],
    ['is_auth=-1', 'is_auth'],
    ['is_auth=yes', 'is_auth'],
    ['is_auth=', 'is_auth'],
    ['is_auth=0.5', 'is_auth'],
    ['page=1&page=2', 'page'],
    ['page=Infinity', 'page'],
    ['page=-Infinity', 'page'],
    ['size=Infinity', 'size'],
    ['page=1e3', 'page'],
    ['size=0x10', 'size'],
    ['size=%205', 'size'],
    ['is_auth=%200', 'is_auth'],
  ];
  for (const route of ['visit', 'auth'] as const) {
    it.each(bad)(`${route}: %s`, async (query, field) => {
      const res = await h.request('GET', `/v1/${route}/records?${query}`, { token: P.v1.token });
      expect({ status: res.status, code: res.body.code, error: res.body.error }).toEqual({ status: 400, code: 400, error: 'VALIDATION_FAILED' });
      expect(res.body.err_msg).toContain(field);
    });
  }

  it.each(['visit', 'auth'] as const)('%s: size 100 and size 1 are fine, unknown parameters are ignored', async (route) => {
    expect((await h.request('GET', `/v1/${route}/records?size=100`, { token: P.v1.token })).status).toBe(200);
    expect((await h.request('GET', `/v1/${route}/records?size=1&page=1000`, { token: P.v1.token })).status).toBe(200);
    expect((await h.request('GET', `/v1/${route}/records?foo=bar&type=1`, { token: P.v1.token })).status).toBe(200);
  });
});

describe('caller parameters (§2)', () => {
  const expectError = (res: any, status: number, error: string) =>
    expect({ status: res.status, code: res.body.code, error: res.body.error }).toEqual({ status, code: status, error });
  const formatted = (p: string) => encodeURIComponent(`+86 ${p.slice(0, 3)}-${p.slice(3, 7)}-${p.slice(7)}`);

  it('3.9: phone = the caller (any format) is fine; another phone is 403 FORBIDDEN', async () => {
    expect(await involving(P.c1, `phone=${P.c1.phone}&size=100`)).toEqual([R.r2.id, R.r1.id]);
    expect(await involving(P.c1, `phone=${formatted(P.c1.phone)}&size=100`)).toEqual([R.r2.id, R.r1.id]);
    expectError(await h.request('GET', `/v1/visit/records?phone=${P.hostA.phone}`, { token: P.c1.token }), 403, 'FORBIDDEN');
    expectError(await h.request('GET', `/v1/visit/records?phone=abc`, { token: P.c1.token }), 403, 'FORBIDDEN');
  });

  it('3.10: proposer or phone = the caller is fine; another is 403 FORBIDDEN', async () => {
    expect(await proposed(P.v1, `proposer=${P.v1.phone}&size=100`)).toEqual([R.r5.id, R.r1.id]);
    expect(await proposed(P.v1, `phone=${formatted(P.v1.phone)}&size=100`)).toEqual([R.r5.id, R.r1.id]);
    expect(await proposed(P.v1, `proposer=${P.v1.phone}&phone=${P.v1.phone}`)).toEqual([R.r5.id, R.r1.id]);
    expectError(await h.request('GET', `/v1/auth/records?proposer=${P.hostB.phone}`, { token: P.v1.token }), 403, 'FORBIDDEN');
    expectError(await h.request('GET', `/v1/auth/records?phone=${P.hostB.phone}`, { token: P.v1.token }), 403, 'FORBIDDEN');
    expectError(await h.request('GET', `/v1/auth/records?proposer=${P.v1.phone}&phone=${P.v2.phone}`, { token: P.v1.token }), 403, 'FORBIDDEN');
  });

  it("weixinUserId: the session's own is fine, another is 403 FORBIDDEN", async () => {
    for (const route of ['visit', 'auth']) {
      expect((await h.request('GET', `/v1/${route}/records?weixinUserId=${P.v1.openid}`, { token: P.v1.token })).status).toBe(200);
      expectError(await h.request('GET', `/v1/${route}/records?weixinUserId=${P.v2.openid}`, { token: P.v1.token }), 403, 'FORBIDDEN');
    }
  });

  it('403 comes before 400 (caller parameters, then validation)', async () => {
    expectError(await h.request('GET', `/v1/visit/records?phone=${P.v2.phone}&size=0`, { token: P.v1.token }), 403, 'FORBIDDEN');
    expectError(await h.request('GET', `/v1/auth/records?proposer=${P.v2.phone}&page=x`, { token: P.v1.token }), 403, 'FORBIDDEN');
  });

  it('no session: 401; not bound: 403 NOT_BOUND', async () => {
    const unbound = await h.session(newOpenid('wx-unbound'));
    for (const route of ['visit', 'auth']) {
      expectError(await h.request('GET', `/v1/${route}/records`), 401, 'UNAUTHENTICATED');
      expectError(await h.request('GET', `/v1/${route}/records`, { token: unbound }), 403, 'NOT_BOUND');
    }
  });
});
