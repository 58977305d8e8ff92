import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault } from '../../src/adapters/simulator.js';
import { newOpenid, newPhone, notificationsOf, settled, type NotificationRow } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';

// api-contract.md §5: who is told what, how, and what happens when a provider misbehaves.

let h: Harness;
const HOST = STAFF.zhangwei;
let hostToken: string;

/**
 * Midnight in Asia/Shanghai (16:00 UTC, a date boundary) two to three days ahead: within
 * MAX_DAYS_AHEAD, and the date in the message is the next day's in China.
 */
const START = Math.floor(Date.now() / 86_400_000) * 86_400 + 2 * 86_400 + 16 * 3600;
const START_SHANGHAI = `${new Date((START + 8 * 3600) * 1000).toISOString().slice(0, 10)} 00:00`;
const WINDOW = { start_time: START, end_time: START + 2 * 3600 };
/** WeChat's keyword3: the window on one line, China time. */
const START_WINDOW = `${START_SHANGHAI}至02:00`;

beforeAll(async () => {
  h = await startHarness({
    // Two retries (three attempts): enough to see recovery and giving up, quickly.
    env: { NOTIFY_RETRY_LIMIT: '2', UPSTREAM_TIMEOUT_MS: '5000', APPLY_PER_HOUR: '1000' },
    sms: { limits: null },
  });
  hostToken = await h.bound(newOpenid('wx-host'), HOST.phone);
});
afterAll(async () => {
  await h?.close();
});

/**
 * Absence checks wait for the worker rather than for a while: once a claim pass that started
 * after the call finds nothing more due and every row claimed until then has ended, whatever a
 * row due now would have sent has been sent (NotifyWorker.nextIdlePass).
 */
const workerIdle = () => h.runtime.worker!.nextIdlePass();

/**
 * Tests run side by side (each waits seconds for retries), so each breaks only its own
 * traffic: faults match one phone, and people have names of their own.
 */
let nameSeq = 0;
const uniqueName = (name: string) => `${name}${++nameSeq}`;
function smsFault(phone: string, fault: Fault): () => void {
  return h.sims.sms.server.addFault({ ...fault, match: (r) => r.query.PhoneNumbers === phone });
}
function wechatFault(phone: string, fault: Fault): () => void {
  return h.sims.cloud.server.addFault({ ...fault, path: '/v2/message', match: (r) => (r.body as { phone?: string } | undefined)?.phone === phone });
}

interface Person {
  name: string;
  phone: string;
  token?: string;
}

/** A person; `bound` gives them a WeChat binding (and a session). */
async function person(tag: string, bound = true): Promise<Person> {
  const phone = newPhone();
  const name = uniqueName(tag);
  return bound ? { name, phone, token: await h.bound(newOpenid('wx'), phone) } : { name, phone };
}

async function invite(visitor: Person, retinues: Person[] = [], headers: Record<string, string> = {}) {
  const res = await h.request('POST', '/v1/subject', {
    token: hostToken,
    headers,
    body: {
      name: visitor.name,
      phone: visitor.phone,
      interviewee: HOST.name,
      interviewee_phone: HOST.phone,
      ...WINDOW,
      retinues: retinues.map((r) => ({ name: r.name, phone: r.phone })),
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

async function request(visitor: Person, retinues: Person[] = [], headers: Record<string, string> = {}) {
  const res = await h.request('POST', '/v1/subject', {
    token: visitor.token,
    headers,
    body: {
      name: visitor.name,
      phone: visitor.phone,
      interviewee: HOST.name,
      interviewee_phone: HOST.phone,
      ...WINDOW,
      retinues: retinues.map((r) => ({ name: r.name, phone: r.phone })),
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** The SMS the simulator accepted for these notification rows (OutId = our notification id). */
function smsFor(rows: NotificationRow[]) {
  const ids = new Set(rows.filter((r) => r.channel === 'sms').map((r) => String(r.id)));
  return h.sims.sms.messages().filter((m) => m.out_id !== null && ids.has(m.out_id));
}
const smsTo = (phone: string) => h.sims.sms.messages().filter((m) => m.phone === phone);
const wechatTo = (phone: string) => h.sims.cloud.messages().filter((m) => m.phone === phone);
const wechatPosts = (phone: string) => h.sims.cloud.server.received.filter((r) => r.path === '/v2/message' && (r.body as { phone?: string })?.phone === phone);
const smsPosts = (phone: string) => h.sims.sms.server.received.filter((r) => r.query.PhoneNumbers === phone);
const summary = (rows: NotificationRow[]) => rows.map((r) => `${r.event} ${r.channel} ${r.phone} ${r.template} ${r.status}`).sort();

function expectWechat(phone: string, template: string, visitorName: string) {
  expect(wechatTo(phone).length, `WeChat messages to ${phone}`).toBe(1);
  return expectWechatAt(phone, 0, template, visitorName);
}

/** `keyword1`: the visitor, with 等N人 when companions come. */
function expectWechatAt(phone: string, index: number, template: string, keyword1: string) {
  const m = wechatTo(phone)[index]!;
  expect(m.tplMessageId).toBe(`WX_TPL_${template.toUpperCase()}`);
  // Every message links to its visit's page, and says everything where WeChat shows it: keyword1–5.
  expect(m.url).toMatch(/^http:\/\/laifang\.test\/h5\/#\/visit\/\d+$/);
  expect(m.hidden).toEqual([]);
  const data = m.data as Record<string, unknown>;
  expect(Object.keys(data).sort()).toEqual(['keyword1', 'keyword2', 'keyword3', 'keyword4', 'keyword5']);
  for (const v of Object.values(data)) expect(typeof v).toBe('string');
  expect(data).toMatchObject({ keyword1, keyword2: HOST.name, keyword3: START_WINDOW });
  expect((data.keyword4 as string).length).toBeGreaterThan(0);
  return data;
}

describe.concurrent('recipients and templates (§5 table)', () => {
  it('staff invitation: the visitor and every companion, approval_pass_to_visitor, by SMS and WeChat', async () => {
    const visitor = await person('王五');
    const c1 = await person('赵六');
    const c2 = await person('孙七');
    const record = await invite(visitor, [c1, c2]);
    const rows = await settled(h, record.id);
    // The rows are everything queued for the record: nobody else (the host) is told.
    expect(summary(rows)).toEqual(
      [visitor, c1, c2].flatMap((p) => ['sms', 'wechat'].map((ch) => `invitation_created ${ch} ${p.phone} approval_pass_to_visitor sent`)).sort(),
    );
    const sms = smsFor(rows);
    expect(sms.length).toBe(3);
    for (const p of [visitor, c1, c2]) {
      const mine = sms.filter((m) => m.phone === p.phone);
      expect(mine.length).toBe(1);
      expect(mine[0]).toMatchObject({
        template_code: 'SMS_TPL_APPROVAL_PASS_TO_VISITOR',
        sign_name: '来访',
        params: { name: p.name, host: HOST.name, time: START_SHANGHAI },
      });
      expect(Object.keys(mine[0]!.params).sort()).toEqual(['host', 'name', 'time']);
      // OutId is our notification id.
      expect(mine[0]!.out_id).toBe(String(rows.find((r) => r.channel === 'sms' && r.phone === p.phone)!.id));
      expectWechat(p.phone, 'approval_pass_to_visitor', `${visitor.name}等3人`);
    }
  });

  it('visitor request: the host (approval_reminder_to_employee) and the proposer (application_submitted_to_visitor); companions nothing', async () => {
    const visitor = await person('李四');
    const companion = await person('周八');
    const record = await request(visitor, [companion]);
    const rows = await settled(h, record.id);
    expect(summary(rows)).toEqual(
      [
        `request_created sms ${HOST.phone} approval_reminder_to_employee sent`,
        `request_created wechat ${HOST.phone} approval_reminder_to_employee sent`,
        `request_created sms ${visitor.phone} application_submitted_to_visitor sent`,
        `request_created wechat ${visitor.phone} application_submitted_to_visitor sent`,
      ].sort(),
    );
    const sms = smsFor(rows);
    expect(sms).toHaveLength(2);
    expect(sms.find((m) => m.phone === HOST.phone)).toMatchObject({
      template_code: 'SMS_TPL_APPROVAL_REMINDER_TO_EMPLOYEE',
      // The host is asked about the visitor: who, from where, how many, when.
      params: { name: HOST.name, visitor: visitor.name, company: '未填写', count: '2', time: START_SHANGHAI },
    });
    expect(sms.find((m) => m.phone === visitor.phone)).toMatchObject({
      template_code: 'SMS_TPL_APPLICATION_SUBMITTED_TO_VISITOR',
      params: { name: visitor.name, host: HOST.name, time: START_SHANGHAI },
    });
    // The host's WeChat message about this visitor (other tests tell the host about others).
    const hostMsgs = wechatTo(HOST.phone).filter((m) => (m.data as Record<string, string>).keyword1 === `${visitor.name}等2人`);
    expect(hostMsgs).toHaveLength(1);
    expect(hostMsgs[0]).toMatchObject({
      tplMessageId: 'WX_TPL_APPROVAL_REMINDER_TO_EMPLOYEE',
      data: { keyword1: `${visitor.name}等2人`, keyword2: HOST.name, keyword3: START_WINDOW, keyword4: '待您授权' },
      url: `http://laifang.test/h5/#/visit/${record.id}`,
      hidden: [],
    });
    expectWechat(visitor.phone, 'application_submitted_to_visitor', `${visitor.name}等2人`);
    await workerIdle();
    expect(smsTo(companion.phone)).toEqual([]);
    expect(wechatTo(companion.phone)).toEqual([]);
  });

  it('visitor request authorized: the proposer, approval_pass_to_visitor (and nobody else)', async () => {
    const visitor = await person('钱九');
    const companion = await person('吴十');
    const record = await request(visitor, [companion]);
    await settled(h, record.id);
    const submitted = wechatTo(visitor.phone)[0]!.data as Record<string, string>;
    const res = await h.request('PUT', `/v1/auth/${record.id}`, { token: hostToken });
    expect(res.status).toBe(200);
    const rows = (await settled(h, record.id)).filter((r) => r.event === 'request_authorized');
    expect(summary(rows)).toEqual([
      `request_authorized sms ${visitor.phone} approval_pass_to_visitor sent`,
      `request_authorized wechat ${visitor.phone} approval_pass_to_visitor sent`,
    ]);
    const sms = smsFor(rows);
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({
      phone: visitor.phone,
      template_code: 'SMS_TPL_APPROVAL_PASS_TO_VISITOR',
      params: { name: visitor.name, host: HOST.name, time: START_SHANGHAI },
    });
    expect(wechatTo(visitor.phone)).toHaveLength(2);
    const approved = expectWechatAt(visitor.phone, 1, 'approval_pass_to_visitor', `${visitor.name}等2人`);
    // A different status from the one that said "submitted", in a line WeChat shows.
    expect(approved.keyword4).not.toBe(submitted.keyword4);
    await workerIdle();
    expect(smsTo(companion.phone)).toEqual([]);
    expect(wechatTo(companion.phone)).toEqual([]);
  });

  it('time is the start in Asia/Shanghai, YYYY-MM-DD HH:mm', async () => {
    const visitor = await person('时间');
    // 23:59 UTC three days ahead: 07:59 the next day in Shanghai.
    const start = Math.floor(Date.now() / 86_400_000) * 86_400 + 3 * 86_400 + 23 * 3600 + 59 * 60;
    const shanghai = `${new Date((start + 8 * 3600) * 1000).toISOString().slice(0, 10)} 07:59`;
    const res = await h.request('POST', '/v1/subject', {
      token: hostToken,
      body: { name: visitor.name, phone: visitor.phone, interviewee: HOST.name, interviewee_phone: HOST.phone, start_time: start, end_time: start + 60 },
    });
    expect(res.status).toBe(200);
    const rows = await settled(h, res.body.data.id);
    expect(smsFor(rows)[0]!.params.time).toBe(shanghai);
    expect((wechatTo(visitor.phone)[0]!.data as Record<string, string>).keyword3).toBe(`${shanghai}至08:00`);
  });

  it('a phone without WeChat gets the SMS alone; its WeChat message is recorded skipped and not retried', async () => {
    const visitor = await person('无微信', false);
    const record = await invite(visitor);
    const rows = await settled(h, record.id);
    const wx = rows.find((r) => r.channel === 'wechat')!;
    expect(wx).toMatchObject({ status: 'skipped', attempts: 1 });
    expect(wx.lastError).toBeTruthy();
    expect(rows.find((r) => r.channel === 'sms')).toMatchObject({ status: 'sent', attempts: 1 });
    expect(smsTo(visitor.phone)).toHaveLength(1);
    expect(wechatTo(visitor.phone)).toEqual([]);
    // Skipped is final (only a pending row is claimed): nothing is due for it at any later pass.
    await workerIdle();
    expect(wechatPosts(visitor.phone)).toHaveLength(1);
    expect(await notificationsOf(h, record.id)).toEqual(rows);
  });
});

describe.concurrent('transient failures are retried until delivered, exactly once', () => {
  it.each([
    ['HTTP 500 twice', { status: 500, times: 2 }, 3],
    ['HTTP 503 once', { status: 503, times: 1 }, 2],
    ['no answer (connection dropped) once', { status: 0, times: 1 }, 2],
    [
      'Aliyun flow control (HTTP 200, isv.BUSINESS_LIMIT_CONTROL) once',
      { status: 200, times: 1, body: JSON.stringify({ Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: '触发分钟级流控Permits:1', RequestId: 'R1' }) },
      2,
    ],
  ])('SMS: %s', async (_label, fault, attempts) => {
    const visitor = await person('重试', false);
    const clear = smsFault(visitor.phone, fault);
    try {
      const record = await invite(visitor);
      const rows = await settled(h, record.id, 20_000);
      expect(rows.find((r) => r.channel === 'sms')).toMatchObject({ status: 'sent', attempts });
      expect(smsTo(visitor.phone)).toHaveLength(1);
      expect(smsPosts(visitor.phone)).toHaveLength(attempts);
      await workerIdle();
      expect(smsTo(visitor.phone)).toHaveLength(1);
    } finally {
      clear();
    }
  });

  it('WeChat: HTTP 500 once, then delivered once', async () => {
    const visitor = await person('微信重试');
    const clear = wechatFault(visitor.phone, { status: 500, times: 1 });
    try {
      const record = await invite(visitor);
      const rows = await settled(h, record.id, 20_000);
      expect(rows.find((r) => r.channel === 'wechat')).toMatchObject({ status: 'sent', attempts: 2 });
      expect(wechatTo(visitor.phone)).toHaveLength(1);
      expect(wechatPosts(visitor.phone)).toHaveLength(2);
    } finally {
      clear();
    }
  });

  it('one that keeps failing is recorded failed with its reason after the last retry, not lost', async () => {
    const visitor = await person('总失败', false);
    const clear = smsFault(visitor.phone, { status: 500 });
    try {
      const record = await invite(visitor);
      const rows = await settled(h, record.id, 20_000);
      const sms = rows.find((r) => r.channel === 'sms')!;
      expect(sms).toMatchObject({ status: 'failed', attempts: 3 });
      expect(sms.lastError).toMatch(/500/);
      expect(sms.finishedAt).not.toBeNull();
    } finally {
      clear();
    }
    await workerIdle();
    expect(smsPosts(visitor.phone)).toHaveLength(3);
    expect(smsTo(visitor.phone)).toEqual([]);
  });

  it.each([
    [
      'HTTP 400 with an Aliyun error',
      { status: 400, body: JSON.stringify({ Code: 'InvalidParameter', Message: 'bad parameter', RequestId: 'R2' }) },
      /InvalidParameter|400/,
    ],
    [
      'HTTP 200 with an error Code',
      { status: 200, body: JSON.stringify({ Code: 'isv.SMS_TEMPLATE_ILLEGAL', Message: '模板不合法', RequestId: 'R3' }) },
      /isv\.SMS_TEMPLATE_ILLEGAL/,
    ],
  ])('a permanent SMS refusal (%s) is recorded failed with the reason, not retried', async (_label, fault, reason) => {
    const visitor = await person('拒绝', false);
    const clear = smsFault(visitor.phone, { ...fault, times: 1 });
    try {
      const record = await invite(visitor);
      const rows = await settled(h, record.id);
      const sms = rows.find((r) => r.channel === 'sms')!;
      expect(sms).toMatchObject({ status: 'failed', attempts: 1 });
      expect(sms.lastError).toMatch(reason);
      await workerIdle();
      expect(smsPosts(visitor.phone)).toHaveLength(1);
      expect(smsTo(visitor.phone)).toEqual([]);
      expect((await notificationsOf(h, record.id)).find((r) => r.channel === 'sms')).toMatchObject({ status: 'failed', attempts: 1 });
    } finally {
      clear();
    }
  });

  it('a permanent WeChat refusal (an error code in the envelope) is recorded failed, not retried', async () => {
    const visitor = await person('微信拒绝');
    const clear = wechatFault(visitor.phone, { status: 200, times: 1, body: JSON.stringify({ code: 40003, err_msg: 'invalid openid' }) });
    try {
      const record = await invite(visitor);
      const rows = await settled(h, record.id);
      const wx = rows.find((r) => r.channel === 'wechat')!;
      expect(wx).toMatchObject({ status: 'failed', attempts: 1 });
      expect(wx.lastError).toMatch(/40003/);
      await workerIdle();
      expect(wechatPosts(visitor.phone)).toHaveLength(1);
    } finally {
      clear();
    }
  });

  it('Idempotency-Key retries, sequential and concurrent, send each message once', async () => {
    const visitor = await person('幂等');
    const companion = await person('幂等同伴');
    const first = await invite(visitor, [companion], { 'idempotency-key': 'notify-once' });
    const more = await Promise.all([1, 2, 3].map(() => invite(visitor, [companion], { 'idempotency-key': 'notify-once' })));
    expect(more.every((r) => r.id === first.id)).toBe(true);
    const rows = await settled(h, first.id);
    expect(rows).toHaveLength(4);
    await workerIdle();
    for (const p of [visitor, companion]) {
      expect(smsTo(p.phone)).toHaveLength(1);
      expect(wechatTo(p.phone)).toHaveLength(1);
    }
  });

  it('concurrent requests with one key from a visitor: the host is told once', async () => {
    const visitor = await person('并发访客');
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => request(visitor, [], { 'idempotency-key': 'visitor-once' })));
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    const rows = await settled(h, answers[0].id);
    expect(rows).toHaveLength(4);
    await workerIdle();
    expect(h.sims.sms.messages().filter((m) => m.phone === HOST.phone && m.params.name === HOST.name && smsFor(rows).includes(m))).toHaveLength(1);
    expect(wechatTo(HOST.phone).filter((m) => (m.data as Record<string, string>).keyword1 === visitor.name)).toHaveLength(1);
    expect(smsTo(visitor.phone)).toHaveLength(1);
  });

  it('a 3 s SMS provider: POST /v1/subject has answered before the SMS arrives', async () => {
    const visitor = await person('慢短信', false);
    const clear = smsFault(visitor.phone, { delayMs: 3000, times: 1 });
    try {
      const started = Date.now();
      const record = await invite(visitor);
      const answered = Date.now();
      const sms = await h.waitFor(() => smsTo(visitor.phone)[0], { what: 'the slow SMS' });
      expect(answered).toBeLessThan(sms.at);
      expect(sms.at - started).toBeGreaterThanOrEqual(3000);
      const rows = await settled(h, record.id);
      expect(rows.find((r) => r.channel === 'sms')).toMatchObject({ status: 'sent', attempts: 1 });
    } finally {
      clear();
    }
  });

  it('a slow WeChat service and a dead SMS provider: the POST still answers 200 at once', async () => {
    const visitor = await person('慢微信');
    const clearWx = wechatFault(visitor.phone, { delayMs: 3000, times: 1 });
    const clearSms = smsFault(visitor.phone, { status: 500 });
    try {
      await invite(visitor);
      const answered = Date.now();
      const wx = await h.waitFor(() => wechatTo(visitor.phone)[0], { what: 'the slow WeChat message' });
      expect(answered).toBeLessThan(wx.at);
    } finally {
      clearWx();
      clearSms();
    }
  });
});

/**
 * The notifications table is the outbox (migration 0004): a claim leases a row for
 * NOTIFY_EXPIRE_S (60 s here); a row whose sender was lost (process killed) is due again when
 * its lease ends. Such rows are written here as a dead sender would have left them: a copy of a
 * sent row, to another phone, with the attempts and due time of a claim.
 */
describe('the outbox', () => {
  async function leftBehind(attempts: number, dueInSeconds: number): Promise<{ id: number; phone: string }> {
    const visitor = await person('租约');
    const record = await invite(visitor);
    const [sms] = (await settled(h, record.id)).filter((r) => r.channel === 'sms');
    const phone = newPhone();
    const r = (await h.database.db.execute(sql`
      insert into notifications (application_id, event, channel, phone, template, payload, created_at, attempts, due_at)
      select application_id, event, channel, ${phone}, template, payload, now(), ${attempts}, now() + make_interval(secs => ${dueInSeconds})
      from notifications where id = ${sms!.id} returning id`)) as unknown as { rows: Array<{ id: string | number }> };
    return { id: Number(r.rows[0]!.id), phone };
  }
  const rowOf = async (id: number) => {
    const r = (await h.database.db.execute(sql`select status, attempts, last_error from notifications where id = ${id}`)) as unknown as {
      rows: Array<{ status: string; attempts: number; last_error: string | null }>;
    };
    return r.rows[0]!;
  };

  it('a row still leased to a lost sender waits for the lease to end, then is sent once', async () => {
    const { id, phone } = await leftBehind(1, 2.5);
    // A pass after the row was written (within a poll, well before the lease ends) leaves it be.
    await workerIdle();
    expect(smsTo(phone)).toHaveLength(0);
    expect((await rowOf(id)).status).toBe('pending');
    await h.waitFor(() => smsTo(phone)[0], { what: 'the SMS after the lease', timeoutMs: 10_000 });
    await h.waitFor(async () => ((await rowOf(id)).status === 'sent' ? true : null), { what: 'the outcome' });
    expect(await rowOf(id)).toMatchObject({ status: 'sent', attempts: 2 });
    await workerIdle();
    expect(smsTo(phone)).toHaveLength(1);
  });

  it('a row whose sender was lost at its last allowed attempt is recorded failed, not sent again', async () => {
    // NOTIFY_RETRY_LIMIT is 2 here: three attempts, all taken.
    const { id, phone } = await leftBehind(3, 0);
    const row = await h.waitFor(
      async () => {
        const r = await rowOf(id);
        return r.status !== 'pending' ? r : null;
      },
      { what: 'the row given up' },
    );
    expect(row).toMatchObject({ status: 'failed', attempts: 4 });
    expect(row.last_error).toMatch(/gave up after 3 attempts/);
    expect(smsTo(phone)).toHaveLength(0);
  });
});
