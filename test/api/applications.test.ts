import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { demoPurposes } from '../../src/adapters/koala/demo-data.js';
import { createLogger } from '../../src/log.js';
import { startRetention } from '../../src/modules/privacy/retention.js';
import { newOpenid, newPhone, notificationsOf, RECORD_KEYS, TestClock, allNotifications } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';

// api-contract.md §3.7 (POST /v1/subject) and §3.8 (GET /v1/subject/purpose).

const FIXED_PURPOSES = [
  { label: '其他', value: 0 },
  { label: '面试', value: 1 },
  { label: '商务', value: 2 },
  { label: '亲友', value: 3 },
  { label: '快递送货', value: 4 },
];
const PER_HOUR = 3;

let h: Harness;
const clock = new TestClock();

beforeAll(async () => {
  // Misses of a named host have their own limit (test/security/host-oracle.test.ts); lifted here.
  h = await startHarness({ now: clock.now, env: { APPLY_PER_HOUR: String(PER_HOUR), HOST_MISSES_PER_HOUR: '1000' }, sms: { limits: null } });
});
afterAll(async () => {
  await h?.close();
});
// Every test starts in a new hour (the hourly limit) and past every Koala cache period.
beforeEach(() => clock.advance(2 * 3600));

/** A visitor with a bound WeChat and a session. */
async function visitor(phone = newPhone()) {
  const openid = newOpenid('wx-visitor');
  const token = await h.bound(openid, phone);
  return { phone, openid, token };
}

/** A demo staff member with a bound WeChat and a session. */
async function staff(who: keyof typeof STAFF = 'zhangwei') {
  const openid = newOpenid(`wx-${who}`);
  const token = await h.bound(openid, STAFF[who].phone);
  return { ...STAFF[who], openid, token };
}

/** A visitor request body (the visitor applies to visit `host`). */
function requestBody(visitorPhone: string, extra: Record<string, unknown> = {}, host: { name: string; phone: string } = STAFF.zhangwei): Record<string, any> {
  return { name: '王五', phone: visitorPhone, interviewee: host.name, interviewee_phone: host.phone, ...clock.window(), ...extra };
}

/** A staff invitation body (`host` invites the visitor). */
function invitationBody(host: { name: string; phone: string }, extra: Record<string, unknown> = {}): Record<string, any> {
  return { name: '王五', phone: newPhone(), interviewee: host.name, interviewee_phone: host.phone, ...clock.window(), ...extra };
}

function apply(token: string, body: unknown, headers: Record<string, string> = {}) {
  return h.request('POST', '/v1/subject', { token, body, headers });
}

async function proposedCount(token: string): Promise<number> {
  const res = await h.request('GET', '/v1/auth/records?size=100', { token });
  expect(res.status).toBe(200);
  return res.body.page.count;
}

function expectError(res: { status: number; body: any }, status: number, error: string) {
  expect({ status: res.status, error: res.body?.error, code: res.body?.code }).toEqual({ status, error, code: status });
  expect(typeof res.body.err_msg).toBe('string');
  expect(res.body.err_msg).not.toBe('');
  expect(res.body).not.toHaveProperty('data');
}

// Order matters here: the first test needs a service that has never read Koala's purposes
// (every POST /v1/subject reads them too), so this block runs before any application.
describe('3.8 GET /v1/subject/purpose', () => {
  it('Koala down with nothing cached: the fixed list', async () => {
    const v = await visitor();
    h.sims.koala.server.setFault({ status: 0, path: '/subjects/purpose' });
    try {
      const res = await h.request('GET', '/v1/subject/purpose', { token: v.token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ code: 0, err_msg: '', data: FIXED_PURPOSES });
    } finally {
      h.sims.koala.server.setFault(null);
    }
  });

  it("read from Koala (the simulator's list has 5 参观)", async () => {
    const v = await visitor();
    const res = await h.request('GET', '/v1/subject/purpose', { token: v.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, err_msg: '', data: demoPurposes() });
    expect(res.body.data).toContainEqual({ label: '参观', value: 5 });
  });

  it('Koala down after a successful read: the remembered Koala list', async () => {
    const v = await visitor();
    const before = h.sims.koala.server.received.filter((r) => r.path === '/subjects/purpose').length;
    h.sims.koala.server.setFault({ status: 503, path: '/subjects/purpose' });
    try {
      const res = await h.request('GET', '/v1/subject/purpose', { token: v.token });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual(demoPurposes());
      // It did ask Koala (the cache period was over) and fell back to what Koala said before.
      expect(h.sims.koala.server.received.filter((r) => r.path === '/subjects/purpose').length).toBeGreaterThan(before);
    } finally {
      h.sims.koala.server.setFault(null);
    }
  });

  it('a purpose from Koala (5) is accepted by POST /v1/subject, with its label', async () => {
    const v = await visitor();
    const res = await apply(v.token, requestBody(v.phone, { purpose: 5 }));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ purpose: 5, purpose_name: '参观' });
  });

  it('Koala has no purpose list: the fixed list, and then 5 is refused', async () => {
    const v = await visitor();
    for (const none of [null, []]) {
      h.sims.koala.setPurposes(none);
      clock.advance(3600);
      const res = await h.request('GET', '/v1/subject/purpose', { token: v.token });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual(FIXED_PURPOSES);
    }
    const refused = await apply(v.token, requestBody(v.phone, { purpose: 5 }));
    expectError(refused, 400, 'VALIDATION_FAILED');
    expect(refused.body.err_msg).toContain('purpose');
    h.sims.koala.setPurposes(demoPurposes());
    clock.advance(3600);
    const back = await h.request('GET', '/v1/subject/purpose', { token: v.token });
    expect(back.body.data).toEqual(demoPurposes());
  });

  it('needs a session', async () => {
    expectError(await h.request('GET', '/v1/subject/purpose'), 401, 'UNAUTHENTICATED');
  });
});

describe('3.7 staff invitation (caller phone == interviewee_phone)', () => {
  it("is authorized at once (auth_time == created_at), stores Koala's name for the host and the §4 shape", async () => {
    const s = await staff('zhangwei');
    const body = invitationBody({ name: '张三丰', phone: s.phone }, { purpose: 2, come_from: '某某公司', remark: '带电脑' });
    const res = await apply(s.token, body);
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(res.body.err_msg).toBe('');
    const rec = res.body.data;
    expect(Object.keys(rec).sort()).toEqual(RECORD_KEYS);
    expect(rec).toEqual({
      id: expect.any(Number),
      subject_type: 1,
      name: '王五',
      phone: body.phone,
      purpose: 2,
      purpose_name: '商务',
      come_from: '某某公司',
      remark: '带电脑',
      proposer: s.phone,
      interviewee: '张伟',
      interviewee_phone: s.phone,
      start_time: body.start_time,
      end_time: body.end_time,
      is_auth: 1,
      auth_time: rec.created_at,
      created_at: expect.any(Number),
      retinues: [],
      status: 'approved',
      status_reason: '',
      signin_time: null,
      signout_time: null,
    });
    expect(Number.isInteger(rec.id) && rec.id > 0).toBe(true);
    expect(Math.abs(rec.created_at - clock.nowSeconds())).toBeLessThanOrEqual(2);
  });

  it("the host's name is Koala's even for an employee whose Koala phone is untidy (+86 138-0000-0003)", async () => {
    const s = await staff('wangfang');
    const res = await apply(s.token, invitationBody({ name: 'x', phone: '+86 138 0000 0003' }));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ interviewee: '王芳', interviewee_phone: '13800000003', proposer: '13800000003', is_auth: 1 });
  });

  it('defaults: purpose 0 其他, come_from "", remark "", retinues []', async () => {
    const s = await staff('lina');
    const res = await apply(s.token, invitationBody(s));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ purpose: 0, purpose_name: '其他', come_from: '', remark: '', retinues: [], subject_type: 1 });
  });

  it('a caller who is not a Koala employee: 404 STAFF_NOT_FOUND, nothing stored', async () => {
    const v = await visitor();
    const res = await apply(v.token, invitationBody({ name: '张伟', phone: v.phone }));
    expectError(res, 404, 'STAFF_NOT_FOUND');
    expect(await proposedCount(v.token)).toBe(0);
  });

  it('keeps companions in the order given', async () => {
    const s = await staff('zhangwei');
    const retinues = [
      { name: '赵六', phone: newPhone() },
      { name: '孙七', phone: newPhone() },
      { name: '周八', phone: newPhone() },
    ];
    const res = await apply(s.token, invitationBody(s, { retinues }));
    expect(res.status).toBe(200);
    expect(res.body.data.retinues).toEqual(retinues);
  });
});

describe('3.7 visitor request (caller phone == phone)', () => {
  it('is stored unauthorized (is_auth 0, auth_time null) with the host as Koala has it', async () => {
    const v = await visitor();
    const body = requestBody(v.phone, { name: '访客甲', retinues: [{ name: '同伴', phone: newPhone() }] });
    const res = await apply(v.token, body);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(RECORD_KEYS);
    expect(res.body.data).toMatchObject({
      name: '访客甲',
      phone: v.phone,
      proposer: v.phone,
      interviewee: '张伟',
      interviewee_phone: STAFF.zhangwei.phone,
      is_auth: 0,
      auth_time: null,
      retinues: body.retinues,
    });
  });

  it('works for a host whose Koala phone is stored as a number (李娜)', async () => {
    const v = await visitor();
    const res = await apply(v.token, requestBody(v.phone, {}, STAFF.lina));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ interviewee: '李娜', interviewee_phone: STAFF.lina.phone });
  });

  it('host name and phone not matching one Koala employee: 404 STAFF_NOT_FOUND', async () => {
    const v = await visitor();
    // Another employee's name with this phone.
    expectError(await apply(v.token, requestBody(v.phone, { interviewee: '李娜' })), 404, 'STAFF_NOT_FOUND');
    // A name Koala does not know.
    expectError(await apply(v.token, requestBody(v.phone, { interviewee: '不存在' })), 404, 'STAFF_NOT_FOUND');
    // A phone that is no employee's.
    expectError(await apply(v.token, requestBody(v.phone, { interviewee_phone: newPhone('137') })), 404, 'STAFF_NOT_FOUND');
    // A substring of the name is not the name.
    expectError(await apply(v.token, requestBody(v.phone, { interviewee: '张' })), 404, 'STAFF_NOT_FOUND');
    expect(await proposedCount(v.token)).toBe(0);
  });

  it('a caller who is neither host nor visitor: 403 NOT_PROPOSER', async () => {
    const v = await visitor();
    const res = await apply(v.token, requestBody(newPhone()));
    expectError(res, 403, 'NOT_PROPOSER');
    // Not even as a companion.
    const asCompanion = await apply(v.token, requestBody(newPhone(), { retinues: [{ name: '我', phone: v.phone }] }));
    expectError(asCompanion, 403, 'NOT_PROPOSER');
    expect(await proposedCount(v.token)).toBe(0);
  });
});

describe('3.7 caller checks (§2)', () => {
  it('no session: 401 UNAUTHENTICATED', async () => {
    expectError(await h.request('POST', '/v1/subject', { body: requestBody(newPhone()) }), 401, 'UNAUTHENTICATED');
    expectError(await h.request('POST', '/v1/subject', { body: requestBody(newPhone()), headers: { authorization: 'Bearer nope' } }), 401, 'UNAUTHENTICATED');
  });

  it('an unbound caller: 403 NOT_BOUND', async () => {
    const token = await h.session(newOpenid('wx-unbound'));
    expectError(await apply(token, requestBody(newPhone())), 403, 'NOT_BOUND');
  });

  it('proposer not the caller: 403 FORBIDDEN; the caller in any format: accepted', async () => {
    const v = await visitor();
    expectError(await apply(v.token, requestBody(v.phone, { proposer: newPhone() })), 403, 'FORBIDDEN');
    expectError(await apply(v.token, requestBody(v.phone, { proposer: STAFF.zhangwei.phone })), 403, 'FORBIDDEN');
    const formatted = `+86 ${v.phone.slice(0, 3)}-${v.phone.slice(3, 7)}-${v.phone.slice(7)}`;
    const res = await apply(v.token, requestBody(v.phone, { proposer: formatted }));
    expect(res.status).toBe(200);
    expect(res.body.data.proposer).toBe(v.phone);
  });

  it('proposer is checked before the body (403 before 400)', async () => {
    const v = await visitor();
    expectError(await apply(v.token, { proposer: newPhone(), name: '' }), 403, 'FORBIDDEN');
  });

  it("weixinUserId not the session's: 403 FORBIDDEN; the session's own: accepted", async () => {
    const v = await visitor();
    expectError(await apply(v.token, requestBody(v.phone, { weixinUserId: 'someone-else' })), 403, 'FORBIDDEN');
    const res = await apply(v.token, requestBody(v.phone, { weixinUserId: v.openid }));
    expect(res.status).toBe(200);
  });
});

describe('3.7 validation: 400 VALIDATION_FAILED naming the field', () => {
  let v: Awaited<ReturnType<typeof visitor>>;
  beforeAll(async () => {
    v = await visitor();
  });

  const phoneFields = ['phone', 'interviewee_phone'] as const;
  type Case = [label: string, field: string | string[], mutate: (b: Record<string, any>) => void];
  const del = (k: string) => (b: Record<string, any>) => {
    delete b[k];
  };
  const set = (k: string, value: unknown) => (b: Record<string, any>) => {
    b[k] = value;
  };
  const cases: Case[] = [
    ...['name', 'phone', 'interviewee', 'interviewee_phone', 'start_time', 'end_time'].map((f): Case => [`missing ${f}`, f, del(f)]),
    ...phoneFields.flatMap((f): Case[] => [
      [`${f} not a number`, f, set(f, 'abc')],
      [`${f} starting 12`, f, set(f, '12900000000')],
      [`${f} with 10 digits`, f, set(f, '1390000000')],
      [`${f} with 12 digits`, f, set(f, '139000000001')],
      [`${f} a landline`, f, set(f, '010-12345678')],
      [`${f} empty`, f, set(f, '')],
      [`${f} as a number`, f, set(f, 13900000001)],
      [`${f} null`, f, set(f, null)],
    ]),
    ['retinues[0].phone bad', 'retinues[0].phone', set('retinues', [{ name: '甲', phone: '12345' }])],
    [
      'retinues[1].phone bad',
      'retinues[1].phone',
      set('retinues', [
        { name: '甲', phone: '13911112222' },
        { name: '乙', phone: 'x' },
      ]),
    ],
    ['retinues[0].phone missing', 'retinues[0].phone', set('retinues', [{ name: '甲' }])],
    ['retinues[0].name missing', 'retinues[0].name', set('retinues', [{ phone: '13911112222' }])],
    ['retinues[0].name empty', 'retinues[0].name', set('retinues', [{ name: '', phone: '13911112222' }])],
    ['retinues[0].name 33 chars', 'retinues[0].name', set('retinues', [{ name: '名'.repeat(33), phone: '13911112222' }])],
    ['retinues[0] not an object', 'retinues[0]', set('retinues', ['13911112222'])],
    ['retinues not an array', 'retinues', set('retinues', '甲 13911112222')],
    ['retinues an object', 'retinues', set('retinues', { name: '甲', phone: '13911112222' })],
    [
      '21 retinues',
      'retinues',
      set(
        'retinues',
        Array.from({ length: 21 }, (_, i) => ({ name: `同伴${i}`, phone: `1371111${String(i).padStart(4, '0')}` })),
      ),
    ],
    ['start == end', ['start_time', 'end_time'], (b) => (b.end_time = b.start_time)],
    ['start > end', ['start_time', 'end_time'], (b) => ([b.start_time, b.end_time] = [b.end_time, b.start_time])],
    ['end in the past', 'end_time', (b) => Object.assign(b, { start_time: clock.nowSeconds() - 7200, end_time: clock.nowSeconds() - 60 })],
    ['start_time negative', 'start_time', set('start_time', -5)],
    ['start_time float', 'start_time', set('start_time', 1.5 + clock.nowSeconds())],
    ['start_time a string', 'start_time', (b) => (b.start_time = String(b.start_time))],
    ['end_time a string', 'end_time', (b) => (b.end_time = 'tomorrow')],
    ['end_time huge', 'end_time', set('end_time', 1e20)],
    ['end_time in milliseconds (year 50000+)', 'end_time', (b) => (b.end_time = b.end_time * 1000)],
    ['start_time boolean', 'start_time', set('start_time', true)],
    ['visitor phone == host phone', ['phone', 'interviewee_phone'], set('interviewee_phone', '')],
    ['name 33 chars', 'name', set('name', '王'.repeat(33))],
    ['name empty', 'name', set('name', '')],
    ['name only spaces', 'name', set('name', '   ')],
    ['name a number', 'name', set('name', 123)],
    ['name an array', 'name', set('name', ['王五'])],
    ['name null', 'name', set('name', null)],
    ['interviewee empty', 'interviewee', set('interviewee', '')],
    ['interviewee an object', 'interviewee', set('interviewee', { name: '张伟' })],
    ['come_from 65 chars', 'come_from', set('come_from', 'c'.repeat(65))],
    ['come_from a number', 'come_from', set('come_from', 5)],
    ['remark 201 chars', 'remark', set('remark', 'r'.repeat(201))],
    ['remark an object', 'remark', set('remark', {})],
    ['purpose unknown (99)', 'purpose', set('purpose', 99)],
    ['purpose negative', 'purpose', set('purpose', -1)],
    ['purpose float', 'purpose', set('purpose', 1.5)],
    ['purpose a string', 'purpose', set('purpose', '2')],
    ['purpose boolean', 'purpose', set('purpose', true)],
    ['purpose huge', 'purpose', set('purpose', 2 ** 40)],
    ['subject_type 2', 'subject_type', set('subject_type', 2)],
    ['subject_type 0', 'subject_type', set('subject_type', 0)],
    ['subject_type "1"', 'subject_type', set('subject_type', '1')],
    ['proposer a number', 'proposer', (b) => (b.proposer = Number(b.phone))],
    ['name with a NUL', 'name', set('name', '王\u0000五')],
    ['name with a lone surrogate', 'name', set('name', '王\ud800')],
    ['interviewee with a control character', 'interviewee', set('interviewee', '张\u0007伟')],
    ['come_from with a NUL', 'come_from', set('come_from', '\u0000')],
    ['remark with a NUL', 'remark', set('remark', 'a\u0000b')],
    ['remark with an escape character', 'remark', set('remark', '\u001b[31m')],
    ['retinues[0].name with a NUL', 'retinues[0].name', set('retinues', [{ name: '\u0000', phone: '13911112222' }])],
  ];

  it.each(cases)('%s', async (_label, field, mutate) => {
    const body: Record<string, any> = requestBody(v.phone);
    mutate(body);
    if (body.interviewee_phone === '') body.interviewee_phone = v.phone; // "visitor phone == host phone"
    const res = await apply(v.token, body);
    expectError(res, 400, 'VALIDATION_FAILED');
    const fields = Array.isArray(field) ? field : [field];
    expect(
      fields.some((f) => res.body.err_msg.includes(f)),
      `err_msg "${res.body.err_msg}" names ${fields.join(' or ')}`,
    ).toBe(true);
  });

  const duplicates: Array<[string, string, (visitorPhone: string) => Record<string, unknown>]> = [
    ["a companion with the visitor's phone", 'retinues[0].phone', (p) => ({ retinues: [{ name: '甲', phone: p }] })],
    ["a companion with the host's phone", 'retinues[0].phone', () => ({ retinues: [{ name: '甲', phone: STAFF.zhangwei.phone }] })],
    [
      'two companions with one phone',
      'retinues[1].phone',
      () => ({
        retinues: [
          { name: '甲', phone: '13722223333' },
          { name: '乙', phone: '13722223333' },
        ],
      }),
    ],
    [
      'duplicates only after normalisation',
      'retinues[1].phone',
      () => ({
        retinues: [
          { name: '甲', phone: '13722223333' },
          { name: '乙', phone: '+86 137-2222-3333' },
        ],
      }),
    ],
    ["the visitor's phone in another format", 'retinues[0].phone', (p) => ({ retinues: [{ name: '甲', phone: `0086${p}` }] })],
  ];
  it.each(duplicates)('duplicate phones: %s', async (_label, field, extra) => {
    const res = await apply(v.token, requestBody(v.phone, extra(v.phone)));
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.err_msg).toContain(field);
  });

  it('an unknown purpose is 400 even from a caller who is neither host nor visitor (validation before business rules)', async () => {
    const res = await apply(v.token, requestBody(newPhone(), { purpose: 99 }));
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.err_msg).toContain('purpose');
  });

  it('nothing invalid was stored', async () => {
    expect(await proposedCount(v.token)).toBe(0);
  });

  it('a remark may have line breaks and tabs', async () => {
    const res = await apply(v.token, requestBody(v.phone, { remark: '第一行\n第二行\t完' }));
    expect(res.status).toBe(200);
    expect(res.body.data.remark).toBe('第一行\n第二行\t完');
  });

  it('the limits themselves are accepted: 32-char names, come_from 64, remark 200, 20 companions', async () => {
    const retinues = Array.from({ length: 20 }, (_, i) => ({ name: `${'同'.repeat(30)}${String(i).padStart(2, '0')}`, phone: newPhone('137') }));
    const body = requestBody(v.phone, { name: '王'.repeat(32), come_from: 'c'.repeat(64), remark: '备'.repeat(200), retinues, subject_type: 1 });
    const res = await apply(v.token, body);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: body.name, come_from: body.come_from, remark: body.remark, retinues });
  });

  it('lengths count characters, not UTF-16 units: 32 emoji are a valid name', async () => {
    const res = await apply(v.token, requestBody(v.phone, { name: '😀'.repeat(32) }));
    expect(res.status).toBe(200);
    expect(res.body.data.name).toBe('😀'.repeat(32));
  });

  it('a window that has started but not ended is accepted', async () => {
    const res = await apply(v.token, requestBody(v.phone, { start_time: clock.nowSeconds() - 600, end_time: clock.nowSeconds() + 600 }));
    expect(res.status).toBe(200);
  });
});

describe('3.7 normalisation and unknown fields', () => {
  it('phones in any accepted format are stored as 11 digits', async () => {
    const v = await visitor();
    const c1 = newPhone();
    const c2 = newPhone();
    const dashed = (p: string) => `${p.slice(0, 3)}-${p.slice(3, 7)}-${p.slice(7)}`;
    const res = await apply(
      v.token,
      requestBody(`+86 ${dashed(v.phone)}`, {
        interviewee_phone: `0086 ${STAFF.zhangwei.phone}`,
        retinues: [
          { name: '甲', phone: `86${c1}` },
          { name: '乙', phone: ` ${c2.slice(0, 3)} ${c2.slice(3)} ` },
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      phone: v.phone,
      proposer: v.phone,
      interviewee_phone: STAFF.zhangwei.phone,
      retinues: [
        { name: '甲', phone: c1 },
        { name: '乙', phone: c2 },
      ],
    });
  });

  it('names are stored trimmed', async () => {
    const v = await visitor();
    const res = await apply(v.token, requestBody(v.phone, { name: '  王五 ', interviewee: ' 张伟 ' }));
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: '王五', interviewee: '张伟' });
  });

  it('unknown fields are ignored (and not echoed)', async () => {
    const v = await visitor();
    const res = await apply(
      v.token,
      requestBody(v.phone, { foo: 'bar', signin_time: 5, is_auth: 1, id: 1, created_at: 0, retinues: [{ name: '甲', phone: newPhone(), extra: true }] }),
    );
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual(RECORD_KEYS);
    expect(res.body.data.is_auth).toBe(0);
    expect(res.body.data.id).not.toBe(1);
    expect(res.body.data.created_at).not.toBe(0);
    expect(Object.keys(res.body.data.retinues[0]).sort()).toEqual(['name', 'phone']);
  });
});

describe('3.7 Idempotency-Key', () => {
  it('a retry returns the first answer and creates nothing (record, notifications)', async () => {
    const v = await visitor();
    const body = requestBody(v.phone);
    const first = await apply(v.token, body, { 'idempotency-key': 'k-retry-1' });
    expect(first.status).toBe(200);
    const queued = await allNotifications(h);
    clock.advance(60);
    // The same body with its keys in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await apply(v.token, reordered, { 'Idempotency-Key': 'k-retry-1' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await proposedCount(v.token)).toBe(1);
    expect((await allNotifications(h)).length).toBe(queued.length);
    expect((await notificationsOf(h, first.body.data.id)).length).toBe(4);
  });

  it('still the first answer after the record changed (it is the stored answer)', async () => {
    const v = await visitor();
    const host = await staff('zhangwei');
    const body = requestBody(v.phone);
    const first = await apply(v.token, body, { 'idempotency-key': 'k-changed' });
    const auth = await h.request('PUT', `/v1/auth/${first.body.data.id}`, { token: host.token });
    expect(auth.status).toBe(200);
    const again = await apply(v.token, body, { 'idempotency-key': 'k-changed' });
    expect(again.status).toBe(200);
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(await proposedCount(v.token)).toBe(1);
  });

  it('the same key with a different body: 409 CONFLICT, nothing created', async () => {
    const v = await visitor();
    const body = requestBody(v.phone);
    expect((await apply(v.token, body, { 'idempotency-key': 'k-conflict' })).status).toBe(200);
    const res = await apply(v.token, { ...body, remark: '改了' }, { 'idempotency-key': 'k-conflict' });
    expectError(res, 409, 'CONFLICT');
    expect(await proposedCount(v.token)).toBe(1);
  });

  it('a key longer than 128 characters: 400 naming the header; 128 is fine', async () => {
    const v = await visitor();
    const res = await apply(v.token, requestBody(v.phone), { 'idempotency-key': 'k'.repeat(129) });
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.err_msg.toLowerCase()).toContain('idempotency-key');
    expect(await proposedCount(v.token)).toBe(0);
    const ok = await apply(v.token, requestBody(v.phone), { 'idempotency-key': 'k'.repeat(128) });
    expect(ok.status).toBe(200);
  });

  it('keys belong to the caller: another caller may use the same key', async () => {
    const a = await visitor();
    const b = await visitor();
    const ra = await apply(a.token, requestBody(a.phone), { 'idempotency-key': 'shared-key' });
    const rb = await apply(b.token, requestBody(b.phone), { 'idempotency-key': 'shared-key' });
    expect(ra.status).toBe(200);
    expect(rb.status).toBe(200);
    expect(rb.body.data.id).not.toBe(ra.body.data.id);
    expect(rb.body.data.proposer).toBe(b.phone);
    // And a staff caller's invitation with that key is its own too.
    const s = await staff('liuyang');
    const rs = await apply(s.token, invitationBody(s), { 'idempotency-key': 'shared-key' });
    expect(rs.status).toBe(200);
    expect(rs.body.data.proposer).toBe(s.phone);
  });

  it('concurrent requests with one key create exactly one record', async () => {
    const v = await visitor();
    const body = requestBody(v.phone, { retinues: [{ name: '甲', phone: newPhone() }] });
    const answers = await Promise.all(Array.from({ length: 5 }, () => apply(v.token, body, { 'idempotency-key': 'k-concurrent' })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const ids = new Set(answers.map((r) => r.body.data.id));
    expect(ids.size).toBe(1);
    expect(await proposedCount(v.token)).toBe(1);
    expect((await notificationsOf(h, [...ids][0] as number)).length).toBe(4);
  });

  it('a failed answer is not stored: the same key then succeeds with a fixed body', async () => {
    const v = await visitor();
    const wrong = await apply(v.token, requestBody(v.phone, { interviewee: '李娜' }), { 'idempotency-key': 'k-fail' });
    expectError(wrong, 404, 'STAFF_NOT_FOUND');
    const invalid = await apply(v.token, requestBody(v.phone, { name: '' }), { 'idempotency-key': 'k-fail' });
    expectError(invalid, 400, 'VALIDATION_FAILED');
    const fixed = await apply(v.token, requestBody(v.phone), { 'idempotency-key': 'k-fail' });
    expect(fixed.status).toBe(200);
    expect(await proposedCount(v.token)).toBe(1);
  });

  it('a key lives 24 hours', async () => {
    const v = await visitor();
    const body = requestBody(v.phone, clock.window(72));
    const first = await apply(v.token, body, { 'idempotency-key': 'k-ttl' });
    clock.advance(23 * 3600);
    const within = await apply(v.token, body, { 'idempotency-key': 'k-ttl' });
    expect(within.body.data.id).toBe(first.body.data.id);
    clock.advance(2 * 3600);
    const after = await apply(v.token, body, { 'idempotency-key': 'k-ttl' });
    expect(after.status).toBe(200);
    expect(after.body.data.id).not.toBe(first.body.data.id);
  });
});

describe(`3.7 APPLY_PER_HOUR (${PER_HOUR} here)`, () => {
  it('the next application in the hour is 429 RATE_LIMITED with Retry-After; an hour after the first it passes', async () => {
    const v = await visitor();
    for (let i = 0; i < PER_HOUR; i++) {
      const res = await apply(v.token, requestBody(v.phone));
      expect(res.status).toBe(200);
      clock.advance(10);
    }
    const limited = await apply(v.token, requestBody(v.phone));
    expectError(limited, 429, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    // The first application was 30 s ago: it leaves the window in 3570 s.
    expect(retryAfter).toBeGreaterThanOrEqual(3565);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(await proposedCount(v.token)).toBe(PER_HOUR);
    // Another caller is not affected.
    const other = await visitor();
    expect((await apply(other.token, requestBody(other.phone))).status).toBe(200);
    clock.advance(retryAfter);
    expect((await apply(v.token, requestBody(v.phone))).status).toBe(200);
  });

  it('idempotent replays do not count, and are answered even at the limit', async () => {
    const v = await visitor();
    const body = requestBody(v.phone);
    const first = await apply(v.token, body, { 'idempotency-key': 'k-rate' });
    for (let i = 0; i < 5; i++) {
      const again = await apply(v.token, body, { 'idempotency-key': 'k-rate' });
      expect(again.status).toBe(200);
      expect(again.body.data.id).toBe(first.body.data.id);
    }
    for (let i = 1; i < PER_HOUR; i++) expect((await apply(v.token, requestBody(v.phone))).status).toBe(200);
    expectError(await apply(v.token, requestBody(v.phone)), 429, 'RATE_LIMITED');
    const replay = await apply(v.token, body, { 'idempotency-key': 'k-rate' });
    expect(replay.status).toBe(200);
    expect(replay.body.data.id).toBe(first.body.data.id);
  });

  it('a member of staff inviting in a burst: exactly the limit is written, the rest are 429 and write nothing', async () => {
    const s = await staff('wangfang');
    const before = await proposedCount(s.token);
    // The first confirms the inviter with Koala; the burst is then answered from memory, and
    // the limit is held by the statement that writes, under the caller's lock.
    expect((await apply(s.token, invitationBody(s))).status).toBe(200);
    const burst = await Promise.all(Array.from({ length: PER_HOUR + 3 }, () => apply(s.token, invitationBody(s))));
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(PER_HOUR - 1).fill(200), ...Array(4).fill(429)]);
    for (const r of burst.filter((x) => x.status === 429)) {
      expectError(r, 429, 'RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(3590);
    }
    expect(await proposedCount(s.token)).toBe(before + PER_HOUR);
    // Nothing of the refused ones: PER_HOUR applications, two messages and one audit entry each.
    // The newest first: this hour's.
    const ids = (await h.request('GET', '/v1/auth/records?size=100', { token: s.token })).body.data.slice(0, PER_HOUR).map((r: { id: number }) => r.id);
    const counts = (await h.database.db.execute(sql`select
      (select count(*)::int from notifications where application_id = any(${`{${ids.join(',')}}`}::bigint[])) as notes,
      (select count(*)::int from audit_log where action = 'application.authorize' and actor_id = ${s.phone} and target_id = any(${`{${ids.join(',')}}`}::text[])) as audits,
      (select count(*)::int from applications where proposer = ${s.phone} and created_at > ${clock.nowSeconds() - 3600}) as apps`)) as unknown as {
      rows: Array<{ notes: number; audits: number; apps: number }>;
    };
    expect(counts.rows[0]).toEqual({ notes: PER_HOUR * 2, audits: PER_HOUR, apps: PER_HOUR });
  });

  it('refused applications do not count', async () => {
    const v = await visitor();
    for (let i = 0; i < PER_HOUR + 2; i++) expectError(await apply(v.token, requestBody(v.phone, { interviewee: '李娜' })), 404, 'STAFF_NOT_FOUND');
    for (let i = 0; i < PER_HOUR; i++) expect((await apply(v.token, requestBody(v.phone))).status).toBe(200);
  });

  // A member of staff confirmed moments ago skips the pre-check (apply.ts): the statement that
  // writes decides alone, at the very second a pair leaves the hour.
  it('the hour slides: each second leaves it on its own, exactly an hour later', async () => {
    const s = await staff('liuyang');
    clock.freeze(); // seconds exact to the boundary
    onTestFinished(() => clock.thaw());
    const invite = async () => {
      expect((await h.request('GET', `/v1/subject/binding?weixinUserId=${s.openid}`, { token: s.token })).status).toBe(200);
      return apply(s.token, invitationBody(s));
    };
    const t0 = clock.nowSeconds();
    for (let i = 0; i < PER_HOUR; i++) {
      expect((await invite()).status).toBe(200);
      clock.advance(100);
    }
    // t0 + 3599: the first is still in the hour; it leaves at t0 + 3600, not a second before.
    clock.advance(3600 - 100 * PER_HOUR - 1);
    const early = await invite();
    expectError(early, 429, 'RATE_LIMITED');
    expect(Number(early.headers['retry-after'])).toBe(1);
    clock.advance(1);
    expect((await invite()).status).toBe(200);
    // The second (t0 + 100) holds the caller now; two at once at t0 + 3700: one of them.
    const limited = await invite();
    expectError(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBe(100);
    clock.advance(100);
    expect((await Promise.all([invite(), invite()])).map((r) => r.status).sort()).toEqual([200, 429]);
    expect(clock.nowSeconds() - t0).toBe(3700);
    const inHour = (await h.database.db.execute(
      sql`select count(*)::int as n from applications where proposer = ${s.phone} and created_at > ${clock.nowSeconds() - 3600}`,
    )) as unknown as { rows: Array<{ n: number }> };
    expect(inHour.rows[0]!.n).toBe(PER_HOUR);
  });

  // Migration 0007 turns a window of seconds with running counts (0006) into the seconds of the
  // caller's newest applications: the last hour's applications made before the upgrade still
  // count after it, and nothing older does.
  it('windows written before migration 0007 convert and hold after it', async () => {
    const migration = (name: string) =>
      readFileSync(new URL(`../../src/db/migrations/${name}`, import.meta.url), 'utf8')
        .split('--> statement-breakpoint')
        .map((x) => x.trim())
        .filter(Boolean);
    // The migration keeps what is within the hour of the database's clock: the service's clock
    // is set to it for this test, and back afterwards.
    const db = h.database.db;
    clock.freeze();
    const clockNow = clock.nowSeconds();
    const dbNow = ((await db.execute(sql`select floor(extract(epoch from now()))::bigint as now`)) as unknown as { rows: Array<{ now: string | number }> })
      .rows[0]!.now;
    const now = Number(dbNow);
    clock.advance(now - clockNow);
    onTestFinished(() => {
      clock.advance(clockNow - now);
      clock.thaw();
    });
    const v = await visitor();
    const full = await visitor();
    const empty = newPhone();
    // The table as migrations 0005 and 0006 made it: a caller with 5 applications in a second
    // that left the hour and one in each of two seconds within it; a caller at the limit (one,
    // then two in one second); a row with nothing.
    await db.execute(sql.raw('DROP TABLE "apply_windows"'));
    await db.execute(sql.raw(migration('0005_apply_windows.sql')[0]!));
    for (const statement of migration('0006_apply_window_running_counts.sql')) await db.execute(sql.raw(statement));
    await db.execute(sql`insert into apply_windows (phone, seconds, upto, dropped) values
      (${v.phone}, ${`{${now - 4000},${now - 100},${now - 50}}`}::bigint[], '{5,6,7}', 0),
      (${full.phone}, ${`{${now - 300},${now - 10}}`}::bigint[], '{4,6}', 3),
      (${empty}, '{}', '{}', 0)`);
    for (const statement of migration('0007_apply_window_timestamps.sql')) await db.execute(sql.raw(statement));
    const rows = (await db.execute(
      sql`select phone, applied_at from apply_windows order by phone = ${v.phone} desc, phone = ${full.phone} desc`,
    )) as unknown as {
      rows: Array<{ phone: string; applied_at: Array<string | number> }>;
    };
    expect(rows.rows.map((r) => ({ phone: r.phone, applied_at: r.applied_at.map(Number) }))).toEqual([
      { phone: v.phone, applied_at: [now - 100, now - 50] },
      { phone: full.phone, applied_at: [now - 300, now - 10, now - 10] },
      { phone: empty, applied_at: [] },
    ]);
    // Two in the hour: one more passes, then the caller waits for the one made 100 s ago.
    expect((await apply(v.token, requestBody(v.phone))).status).toBe(200);
    const limited = await apply(v.token, requestBody(v.phone));
    expectError(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBe(3500);
    // At the limit already: it waits for its oldest, 300 s ago.
    const atLimit = await apply(full.token, requestBody(full.phone));
    expectError(atLimit, 429, 'RATE_LIMITED');
    expect(Number(atLimit.headers['retry-after'])).toBe(3300);
    // A window holds at most the limit.
    const sizes = (await db.execute(sql`select max(cardinality(applied_at))::int as n from apply_windows`)) as unknown as { rows: Array<{ n: number }> };
    expect(sizes.rows[0]!.n).toBeLessThanOrEqual(PER_HOUR);
  });
  it('the retention sweep deletes the windows whose newest application left the hour', async () => {
    const early = await visitor();
    const late = await visitor();
    expect((await apply(early.token, requestBody(early.phone))).status).toBe(200);
    clock.advance(1800);
    expect((await apply(late.token, requestBody(late.phone))).status).toBe(200);
    clock.advance(1800); // the first is an hour old: nothing of it counts any more
    const sweeper = startRetention({
      database: h.database,
      logger: createLogger('silent'),
      now: clock.now,
      options: { days: 36_500, sweepIntervalSeconds: 3600, batchSize: 100 },
      autoStart: false,
    });
    expect((await sweeper.sweep()).applyWindows).toBeGreaterThanOrEqual(1);
    await sweeper.stop();
    const left = (await h.database.db.execute(sql`select phone from apply_windows where phone in (${early.phone}, ${late.phone})`)) as unknown as {
      rows: Array<{ phone: string }>;
    };
    expect(left.rows.map((r) => r.phone)).toEqual([late.phone]);
  });
});

// Applications that arrive together are written by one statement (src/modules/applications/writer.ts).
describe('3.7 applications written together', () => {
  it('each answer, record, person, message and stored key belongs to its own application', async () => {
    const callers = await Promise.all(Array.from({ length: 12 }, () => visitor()));
    const bodies = callers.map((v, i) =>
      requestBody(v.phone, { name: `并发${i}`, come_from: `公司${i}`, retinues: [{ name: `随行${i}`, phone: newPhone() }] }),
    );
    const answers = await Promise.all(callers.map((v, i) => apply(v.token, bodies[i], { 'idempotency-key': `k-together-${i}` })));
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
    const ids = answers.map((r) => r.body.data.id as number);
    expect(new Set(ids).size).toBe(12);
    for (const [i, v] of callers.entries()) {
      const data = answers[i]!.body.data;
      expect(data).toMatchObject({ name: `并发${i}`, phone: v.phone, proposer: v.phone, come_from: `公司${i}`, retinues: [bodies[i]!.retinues[0]] });
      const rows = (await h.database.db.execute(sql`select
        (select json_agg(json_build_object('role', role, 'phone', phone, 'is_proposer', is_proposer) order by position) from application_people where application_id = ${data.id}) as people,
        (select json_agg(distinct phone) from notifications where application_id = ${data.id}) as notified,
        (select json_build_object('id', response->'id', 'name', response->'name', 'application_id', application_id) from idempotency_keys where key = ${`k-together-${i}`}) as stored,
        (select name from applications where id = ${data.id}) as name`)) as unknown as {
        rows: Array<{ people: unknown; notified: string[]; stored: unknown; name: string }>;
      };
      const row = rows.rows[0]!;
      expect(row.name).toBe(`并发${i}`);
      expect(row.people).toEqual([
        { role: 'host', phone: STAFF.zhangwei.phone, is_proposer: false },
        { role: 'visitor', phone: v.phone, is_proposer: true },
        { role: 'companion', phone: bodies[i]!.retinues[0].phone, is_proposer: false },
      ]);
      // A visitor request tells its host and its visitor, nobody else's.
      expect([...row.notified].sort()).toEqual([STAFF.zhangwei.phone, v.phone].sort());
      expect(row.stored).toEqual({ id: data.id, name: `并发${i}`, application_id: data.id });
      // The stored answer is the answer.
      const again = await apply(v.token, bodies[i], { 'idempotency-key': `k-together-${i}` });
      expect(again.body.data).toEqual(data);
    }
  });

  it("one application's failure is its own: an expired key among others is replaced, and the others are written", async () => {
    const old = await visitor();
    const body = requestBody(old.phone, clock.window(72));
    const first = await apply(old.token, body, { 'idempotency-key': 'k-expired-together' });
    expect(first.status).toBe(200);
    clock.advance(25 * 3600);
    const others = await Promise.all(Array.from({ length: 10 }, () => visitor()));
    // The others first, so the expired key's application comes in a batch with some of them.
    const answers = await Promise.all([
      ...others.map((v) => apply(v.token, requestBody(v.phone))),
      apply(old.token, body, { 'idempotency-key': 'k-expired-together' }),
    ]);
    expect(answers.map((r) => r.status)).toEqual(Array(11).fill(200));
    const renewed = answers[10]!.body.data;
    expect(renewed.id).not.toBe(first.body.data.id);
    for (const v of others) expect(await proposedCount(v.token)).toBe(1);
    expect(await proposedCount(old.token)).toBe(2);
    const stored = (await h.database.db.execute(sql`select application_id from idempotency_keys where key = 'k-expired-together'`)) as unknown as {
      rows: Array<{ application_id: number }>;
    };
    expect(stored.rows.map((r) => Number(r.application_id))).toEqual([renewed.id]);
  });
});
