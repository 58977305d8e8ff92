import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOpenid, newPhone, RECORD_KEYS, TestClock } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';
import { adminLogin, asDevice, expectError } from './helpers.js';

// docs/api-contract-frontdesk.md "Visit records (admin)": GET /v1/visit/records?type=web, DELETE /v1/visit/records/{id}.

let h: Harness;
const clock = new TestClock();
let admin: string;
let zhang: string; // 张伟's phone session
let lina: string; // 李娜's phone session
const ids: Record<string, number> = {};
const visitorPhone = newPhone();
const companionPhone = newPhone();
const T0 = Math.floor(Date.now() / 1000) + 86_400; // windows tomorrow

const list = (query: string, token = admin) => h.request('GET', `/v1/visit/records?type=web${query}`, { token });
const idsOf = (res: { body: any }) => (res.body.data as Array<{ id: number }>).map((r) => r.id);

async function apply(token: string, body: Record<string, unknown>): Promise<number> {
  const res = await h.request('POST', '/v1/subject', { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.id as number;
}

beforeAll(async () => {
  h = await startHarness({ now: clock.now, sms: { limits: null } });
  admin = (await adminLogin(h)).token;
  zhang = await h.bound('wx-rec-zhang', STAFF.zhangwei.phone);
  lina = await h.bound('wx-rec-lina', STAFF.lina.phone);
  const visitor = await h.bound(newOpenid(), visitorPhone);
  // Created one second apart, so "newest first" is a real order.
  ids.a = await apply(zhang, {
    name: '王小明',
    phone: visitorPhone,
    interviewee: '张伟',
    interviewee_phone: STAFF.zhangwei.phone,
    start_time: T0,
    end_time: T0 + 3600,
    retinues: [{ name: '赵同伴', phone: companionPhone }],
  });
  clock.advance(1);
  ids.b = await apply(lina, {
    name: '100%_真人',
    phone: newPhone(),
    interviewee: '李娜',
    interviewee_phone: STAFF.lina.phone,
    start_time: T0 + 7200,
    end_time: T0 + 10_800,
  });
  clock.advance(1);
  ids.c = await apply(visitor, {
    name: '王小明',
    phone: visitorPhone,
    interviewee: '李娜',
    interviewee_phone: STAFF.lina.phone,
    start_time: T0 + 20_000,
    end_time: T0 + 23_600,
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('GET /v1/visit/records?type=web', () => {
  it("every application, newest first, as the contract's records plus their kind, with a page", async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(idsOf(res)).toEqual([ids.c, ids.b, ids.a]);
    expect(res.body.page).toEqual({ count: 3, current: 1, size: 20, total: 1 });
    const a = res.body.data[2];
    expect(Object.keys(a).sort()).toEqual([...RECORD_KEYS, 'kind'].sort());
    expect(a).toMatchObject({
      id: ids.a,
      kind: 'invitation',
      is_auth: 1,
      name: '王小明',
      interviewee: '张伟',
      retinues: [{ name: '赵同伴', phone: companionPhone }],
      signin_time: null,
      signout_time: null,
    });
    expect(res.body.data[0]).toMatchObject({ kind: 'request', is_auth: 0 });
  });

  it('filters: name (visitor or companion, substring), interviewee (substring), phones (any format), is_auth, window overlap', async () => {
    expect(idsOf(await list('&name=小明'))).toEqual([ids.c, ids.a]);
    expect(idsOf(await list(`&name=${encodeURIComponent('同伴')}`))).toEqual([ids.a]);
    expect(idsOf(await list('&interviewee=李'))).toEqual([ids.c, ids.b]);
    expect(idsOf(await list(`&phone=${encodeURIComponent(`+86 ${visitorPhone}`)}`))).toEqual([ids.c, ids.a]);
    expect(idsOf(await list(`&phone=${companionPhone}`))).toEqual([ids.a]);
    expect(idsOf(await list(`&interviewee_phone=${STAFF.zhangwei.phone}`))).toEqual([ids.a]);
    expect(idsOf(await list('&is_auth=0'))).toEqual([ids.c]);
    expect(idsOf(await list('&is_auth=1'))).toEqual([ids.b, ids.a]);
    expect(idsOf(await list(`&start_time=${T0 + 3000}&end_time=${T0 + 7300}`))).toEqual([ids.b, ids.a]);
    expect(idsOf(await list(`&start_time=${T0 + 11_000}`))).toEqual([ids.c]);
    expect(idsOf(await list(`&end_time=${T0 - 1}`))).toEqual([]);
    expect(idsOf(await list('&name=小明&interviewee=李&is_auth=0'))).toEqual([ids.c]);
    // One record by its id (the console's link from the audit log).
    expect(idsOf(await list(`&id=${ids.b}`))).toEqual([ids.b]);
    expect(idsOf(await list(`&id=${ids.b}&is_auth=0`))).toEqual([]);
  });

  it('a % or _ typed into the name is matched as itself', async () => {
    expect(idsOf(await list(`&name=${encodeURIComponent('%_')}`))).toEqual([ids.b]);
    expect(idsOf(await list(`&name=${encodeURIComponent('_')}`))).toEqual([ids.b]);
  });

  it('paging', async () => {
    const res = await list('&size=1&page=2');
    expect(idsOf(res)).toEqual([ids.b]);
    expect(res.body.page).toEqual({ count: 3, current: 2, size: 1, total: 3 });
    expect(idsOf(await list('&size=2&page=9'))).toEqual([]);
  });

  it('bad filters: 400', async () => {
    for (const q of [
      '&phone=12345',
      '&interviewee_phone=abc',
      '&size=0',
      '&size=101',
      '&page=0',
      '&page=1e3',
      '&is_auth=2',
      `&start_time=${T0}&end_time=${T0 - 1}`,
      '&start_time=-1',
    ]) {
      expectError(await list(q), 400, 'VALIDATION_FAILED');
    }
  });

  it('a phone session with type=web: 401; without type=web the same path is still the phone API (3.9)', async () => {
    expectError(await list('', zhang), 401, 'UNAUTHENTICATED');
    expectError(await list(`&phone=${STAFF.zhangwei.phone}`, zhang), 401, 'UNAUTHENTICATED');
    const mine = await h.request('GET', '/v1/visit/records?size=10', { token: lina });
    expect(mine.status).toBe(200);
    expect(idsOf(mine)).toEqual([ids.c]);
    // And an admin token on the phone listing (no type=web) is not a phone session.
    expectError(await h.request('GET', '/v1/visit/records', { token: admin }), 401, 'UNAUTHENTICATED');
  });
});

describe('OpenAPI', () => {
  it("lists the admin listing apart, so the phone API's 3.9 keeps its own entry", async () => {
    const doc = (await h.request('GET', '/docs/json')).body;
    expect(doc.paths['/v1/visit/records'].get.summary).toMatch(/^3\.9 /);
    expect(doc.paths['/v1/visit/records?type=web'].get.tags).toEqual(['admin']);
  });
});

describe('DELETE /v1/visit/records/{id}', () => {
  it('deletes the record (gone for admins and phones), audits it; again: 404', async () => {
    const res = await h.request('DELETE', `/v1/visit/records/${ids.c}`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, err_msg: '', data: { id: ids.c, deleted: true } });
    expect(idsOf(await list(''))).toEqual([ids.b, ids.a]);
    expect(idsOf(await h.request('GET', '/v1/visit/records?size=10', { token: lina }))).toEqual([]);
    const audit = await h.request('GET', `/v1/audit?action=application.delete&target_id=${ids.c}`, { token: admin });
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({ actor_kind: 'admin', target_type: 'application', detail: { name: '王小明', interviewee: '李娜' } });
    expectError(await h.request('DELETE', `/v1/visit/records/${ids.c}`, { token: admin }), 404, 'NOT_FOUND');
    expectError(await h.request('DELETE', '/v1/visit/records/abc', { token: admin }), 400, 'VALIDATION_FAILED');
  });

  it('cancels the notifications still pending for it: nothing is sent after the delete', async () => {
    const phone = newPhone();
    h.sims.sms.server.setFault({ status: 503, body: JSON.stringify({ Code: 'ServiceUnavailable', Message: 'down', RequestId: 'X' }) });
    let retryAt = 0;
    try {
      const id = await apply(zhang, {
        name: '取消通知',
        phone,
        interviewee: '张伟',
        interviewee_phone: STAFF.zhangwei.phone,
        start_time: T0,
        end_time: T0 + 3600,
      });
      await h.waitFor(() => h.sims.sms.server.received.some((r) => JSON.stringify(r).includes(phone)), { what: 'a first failed SMS attempt' });
      // The failed attempt has scheduled the next one: when it would come (epoch ms, database
      // time). Already claimed again (attempts 2, leased), it is in flight: the idle pass below
      // waits for it.
      retryAt = await h.waitFor(
        async () => {
          const r = (await h.database.db.execute(sql`select (extract(epoch from case when attempts = 1 then due_at else now() end) * 1000)::float8 as due
            from notifications where application_id = ${id} and channel = 'sms' and status = 'pending' and last_error is not null`)) as unknown as {
            rows: Array<{ due: number }>;
          };
          return r.rows[0]?.due ?? null;
        },
        { what: 'the retry scheduled' },
      );
      expect((await h.request('DELETE', `/v1/visit/records/${id}`, { token: admin })).status).toBe(200);
    } finally {
      h.sims.sms.server.setFault(null);
    }
    // Past the time the retry was due, the worker finds nothing more due: the retry did not happen.
    await h.waitFor(
      async () => {
        const r = (await h.database.db.execute(sql`select (extract(epoch from now()) * 1000)::float8 >= ${retryAt} as due`)) as unknown as {
          rows: Array<{ due: boolean }>;
        };
        return r.rows[0]!.due || null;
      },
      { what: 'the time the retry was due' },
    );
    await h.runtime.worker!.nextIdlePass();
    expect(h.sims.sms.messages().filter((m) => m.phone === phone)).toEqual([]);
  }, 30_000);

  it('a visit in progress (signed in at a kiosk, not yet out): 409, the record stays', async () => {
    const phone = newPhone();
    const now = clock.nowSeconds();
    const id = await apply(zhang, {
      name: '在访访客',
      phone,
      interviewee: '张伟',
      interviewee_phone: STAFF.zhangwei.phone,
      start_time: now + 60,
      end_time: now + 7200,
    });
    const kiosk = await h.runtime.devices.register({ name: 'records kiosk', kind: 'kiosk' });
    const signin = await asDevice(h, 'POST', '/v1/visit/signin', kiosk.token, { phone });
    expect(signin.status, JSON.stringify(signin.body)).toBe(200);
    expectError(await h.request('DELETE', `/v1/visit/records/${id}`, { token: admin }), 409, 'CONFLICT');
    expect(idsOf(await list(`&phone=${phone}`))).toEqual([id]);
    expect((await list(`&phone=${phone}`)).body.data[0].signin_time).toBeGreaterThan(0);
  });
});
