import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, notificationsOf, RECORD_KEYS, settled, TestClock } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';

// api-contract.md §3.11 (PUT /v1/auth/{id}).

let h: Harness;
const clock = new TestClock();

interface Person {
  name: string;
  phone: string;
  openid: string;
  token: string;
}

async function person(name: string, phone = newPhone()): Promise<Person> {
  const openid = newOpenid('wx');
  return { name, phone, openid, token: await h.bound(openid, phone) };
}

let host: Person; // 张伟
let otherStaff: Person; // 李娜

beforeAll(async () => {
  h = await startHarness({ now: clock.now, sms: { limits: null } });
  host = await person(STAFF.zhangwei.name, STAFF.zhangwei.phone);
  otherStaff = await person(STAFF.lina.name, STAFF.lina.phone);
});
afterAll(async () => {
  await h?.close();
});

/** A visitor request to 张伟 with one companion; its creation notifications delivered. */
async function visitorRequest() {
  const visitor = await person('访客');
  const companion = await person('同伴');
  const res = await h.request('POST', '/v1/subject', {
    token: visitor.token,
    body: {
      name: visitor.name,
      phone: visitor.phone,
      interviewee: host.name,
      interviewee_phone: host.phone,
      ...clock.window(),
      retinues: [{ name: companion.name, phone: companion.phone }],
    },
  });
  expect(res.status).toBe(200);
  const record = res.body.data;
  await settled(h, record.id);
  return { visitor, companion, record };
}

function authorize(id: number | string, token?: string) {
  return h.request('PUT', `/v1/auth/${id}`, { token });
}

function expectError(res: any, status: number, error: string) {
  expect({ status: res.status, code: res.body.code, error: res.body.error }).toEqual({ status, code: status, error });
  expect(res.body).not.toHaveProperty('data');
}

describe('the host authorizes', () => {
  it('sets is_auth 1 and auth_time, answers the record, and tells the proposer (SMS + WeChat approval_pass_to_visitor)', async () => {
    const { visitor, companion, record } = await visitorRequest();
    clock.advance(120);
    const smsBefore = h.sims.sms.messages().length;
    const wxBefore = h.sims.cloud.messages().length;
    const res = await authorize(record.id, host.token);
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(res.body.err_msg).toBe('');
    expect(Object.keys(res.body.data).sort()).toEqual(RECORD_KEYS);
    expect(res.body.data).toEqual({ ...record, is_auth: 1, status: 'approved', auth_time: expect.any(Number) });
    expect(Math.abs(res.body.data.auth_time - clock.nowSeconds())).toBeLessThanOrEqual(2);
    expect(res.body.data.auth_time).toBeGreaterThanOrEqual(record.created_at + 120);

    const rows = await settled(h, record.id);
    const approval = rows.filter((r) => r.event === 'request_authorized');
    expect(approval.map((r) => [r.channel, r.phone, r.template, r.status]).sort()).toEqual([
      ['sms', visitor.phone, 'approval_pass_to_visitor', 'sent'],
      ['wechat', visitor.phone, 'approval_pass_to_visitor', 'sent'],
    ]);
    const sms = h.sims.sms.messages().slice(smsBefore);
    expect(sms.map((m) => [m.phone, m.template_code])).toEqual([[visitor.phone, 'SMS_TPL_APPROVAL_PASS_TO_VISITOR']]);
    const wx = h.sims.cloud.messages().slice(wxBefore);
    expect(wx.map((m) => [m.phone, m.tplMessageId])).toEqual([[visitor.phone, 'WX_TPL_APPROVAL_PASS_TO_VISITOR']]);
    // The companion is not told (§5).
    expect(sms.concat().some((m) => m.phone === companion.phone)).toBe(false);

    // The lists agree.
    const mine = await h.request('GET', '/v1/auth/records', { token: visitor.token });
    expect(mine.body.data[0]).toEqual(res.body.data);
    const hosts = await h.request('GET', '/v1/visit/records?is_auth=1&size=100', { token: host.token });
    expect(hosts.body.data.map((r: any) => r.id)).toContain(record.id);
  });

  it('again: 200 with the same record, and nothing more is queued or sent', async () => {
    const { record } = await visitorRequest();
    const first = await authorize(record.id, host.token);
    expect(first.status).toBe(200);
    await settled(h, record.id);
    const rows = await notificationsOf(h, record.id);
    const sms = h.sims.sms.messages().length;
    clock.advance(300);
    const again = await authorize(record.id, host.token);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    // Whatever the second call could have queued is sent by the time the worker has found nothing more due.
    await h.runtime.worker!.nextIdlePass();
    expect(await notificationsOf(h, record.id)).toEqual(rows);
    expect(h.sims.sms.messages().length).toBe(sms);
  });

  it('concurrently: one approval, told once', async () => {
    const { record } = await visitorRequest();
    const answers = await Promise.all(Array.from({ length: 4 }, () => authorize(record.id, host.token)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.body.data.auth_time)).size).toBe(1);
    const rows = await settled(h, record.id);
    expect(rows.filter((r) => r.event === 'request_authorized').length).toBe(2);
  });

  it('a staff invitation (already authorized) by its host: 200, auth_time unchanged, nothing queued', async () => {
    const res = await h.request('POST', '/v1/subject', {
      token: host.token,
      body: { name: '王五', phone: newPhone(), interviewee: host.name, interviewee_phone: host.phone, ...clock.window() },
    });
    expect(res.status).toBe(200);
    const rows = await settled(h, res.body.data.id);
    clock.advance(60);
    const auth = await authorize(res.body.data.id, host.token);
    expect(auth.status).toBe(200);
    expect(auth.body.data).toEqual(res.body.data);
    expect(await notificationsOf(h, res.body.data.id)).toEqual(rows);
  });

  it("the host may authorize with any session bound to the host's phone", async () => {
    const { record } = await visitorRequest();
    const second = await person(host.name, host.phone);
    expect((await authorize(record.id, second.token)).status).toBe(200);
  });
});

describe('anyone else: 404 NOT_FOUND (the record is not revealed)', () => {
  it('the visitor (proposer), a companion, another staff member, a stranger', async () => {
    const { visitor, companion, record } = await visitorRequest();
    const stranger = await person('路人');
    const unknown = await authorize(99_999_999, host.token);
    expectError(unknown, 404, 'NOT_FOUND');
    for (const who of [visitor, companion, otherStaff, stranger]) {
      const res = await authorize(record.id, who.token);
      expectError(res, 404, 'NOT_FOUND');
      // Word for word what an id that does not exist gets.
      expect(res.body).toEqual(unknown.body);
    }
    // Nothing changed.
    const mine = await h.request('GET', '/v1/auth/records', { token: visitor.token });
    expect(mine.body.data[0]).toMatchObject({ id: record.id, is_auth: 0, auth_time: null });
    expect((await notificationsOf(h, record.id)).filter((r) => r.event === 'request_authorized')).toEqual([]);
  });

  it('the proposer of a staff invitation is its host (may), its visitor may not', async () => {
    const visitor = await person('被邀者');
    const res = await h.request('POST', '/v1/subject', {
      token: host.token,
      body: { name: visitor.name, phone: visitor.phone, interviewee: host.name, interviewee_phone: host.phone, ...clock.window() },
    });
    expectError(await authorize(res.body.data.id, visitor.token), 404, 'NOT_FOUND');
  });

  it("an unbound caller: 403 NOT_BOUND (the route needs the caller's phone, §6)", async () => {
    const { record } = await visitorRequest();
    const token = await h.session(newOpenid('wx-unbound'));
    expectError(await authorize(record.id, token), 403, 'NOT_BOUND');
  });

  it('no session: 401 UNAUTHENTICATED', async () => {
    expectError(await authorize(1), 401, 'UNAUTHENTICATED');
    expectError(await h.request('PUT', '/v1/auth/1', { headers: { authorization: 'Basic abc' } }), 401, 'UNAUTHENTICATED');
  });
});

describe('the id', () => {
  it.each(['abc', '0', '-1', '1.5', '1e3', '0x10', '99999999999999999999', '%20', '1abc'])('%s: 400 VALIDATION_FAILED naming id', async (id) => {
    const res = await authorize(id, host.token);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.err_msg).toContain('id');
  });

  it.each(['+5', ' 5', '5 ', '1_000'])('%s (not plain decimal): 400', async (id) => {
    expectError(await authorize(encodeURIComponent(id), host.token), 400, 'VALIDATION_FAILED');
  });

  it('an empty id: a 4xx naming it, or no route', async () => {
    const res = await h.request('PUT', '/v1/auth/', { token: host.token });
    expect([400, 404]).toContain(res.status);
    expect(res.body.code).toBe(res.status);
    if (res.status === 400) expect(res.body.err_msg).toContain('id');
  });

  it('a body is ignored', async () => {
    const { record } = await visitorRequest();
    const res = await h.request('PUT', `/v1/auth/${record.id}`, { token: host.token, body: { is_auth: 0, auth_time: 1 } });
    expect(res.status).toBe(200);
    expect(res.body.data.is_auth).toBe(1);
    expect(res.body.data.auth_time).not.toBe(1);
  });
});
