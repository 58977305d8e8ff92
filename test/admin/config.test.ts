import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKoalaSimulator, type KoalaSimulator } from '../../src/adapters/koala/simulator.js';
import { startWechatCloudSimulator, type WechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { TEMPLATE_NAMES } from '../../src/config.js';
import { settings } from '../../src/db/schema.js';
import { newPhone, notificationsOf } from '../helpers/apply.js';
import { futureWindow, STAFF, startHarness, type Harness } from '../helpers/harness.js';
import { captureLogger } from '../helpers/upstream.js';
import { adminLogin, expectError } from './helpers.js';

// docs/api-contract-frontdesk.md "Settings": GET/PUT /v1/config/servers and /v1/config/templates.

const KOALA_B = { username: 'koala-b@corp', password: 'koala-b-secret-Zq81!' };
let h: Harness;
let logs: string[];
let admin: string;
let adminPassword: string;
let staff: string;
let koalaB: KoalaSimulator;
let cloudB: WechatCloudSimulator;

const getServers = () => h.request('GET', '/v1/config/servers', { token: admin });
const putServers = (body: unknown) => h.request('PUT', '/v1/config/servers', { token: admin, body });

beforeAll(async () => {
  const cap = captureLogger();
  logs = cap.lines;
  [koalaB, cloudB] = await Promise.all([startKoalaSimulator(KOALA_B), startWechatCloudSimulator()]);
  h = await startHarness({ logger: cap.logger, sms: { limits: null } });
  ({ token: admin, password: adminPassword } = await adminLogin(h));
  staff = await h.bound('wx-config-staff', STAFF.zhangwei.phone);
}, 60_000);
afterAll(async () => {
  await h?.close();
  await Promise.all([koalaB?.close(), cloudB?.close()]);
});

describe('servers', () => {
  it("GET: the environment's settings, the Koala password masked", async () => {
    const res = await getServers();
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      koala_url: h.sims.koala.url,
      koala_username: h.sims.koala.username,
      koala_password: '******',
      koala_password_set: true,
      cloud_url: h.sims.cloud.url,
      stored: [],
    });
    expect(JSON.stringify(res.body)).not.toContain(h.sims.koala.password);
  });

  it('bad values: 400 naming the field, nothing stored', async () => {
    for (const body of [
      { koala_url: 'ftp://koala' },
      { koala_url: 'not a url' },
      { cloud_url: 'http://user:pw@cloud' },
      { koala_username: '  ' },
      { koala_password: '' },
      { other: 1 },
      { koala_url: 5 },
    ]) {
      const res = await putServers(body);
      expectError(res, 400, 'VALIDATION_FAILED');
    }
    expect((await getServers()).body.data.stored).toEqual([]);
  });

  it('PUT a new Koala address and account: used from the next call on, without a restart; the password never comes back', async () => {
    const res = await putServers({ koala_url: `${koalaB.url}/`, koala_username: KOALA_B.username, koala_password: KOALA_B.password });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      koala_url: koalaB.url,
      koala_username: KOALA_B.username,
      koala_password: '******',
      koala_password_set: true,
      stored: ['koala_password', 'koala_url', 'koala_username'],
    });

    // 3.1 re-reads the employee from Koala: it now goes to Koala B, logged in with the new account.
    const before = koalaB.server.received.length;
    const profile = await h.request('GET', '/v1/subject/binding', { token: staff });
    expect(profile.status).toBe(200);
    expect(koalaB.logins).toBe(1);
    expect(koalaB.server.received.length).toBeGreaterThan(before);

    // Never in clear: not in the answer, not in the database, not in the logs, not in the audit log.
    expect(JSON.stringify((await getServers()).body)).not.toContain(KOALA_B.password);
    const [row] = await h.database.db.select().from(settings).where(eq(settings.key, 'servers'));
    expect(JSON.stringify(row!.value)).not.toContain(KOALA_B.password);
    expect(logs.join('\n')).not.toContain(KOALA_B.password);
    const audit = await h.request('GET', '/v1/audit?action=config.servers.update', { token: admin });
    expect(audit.body.data[0]).toMatchObject({
      actor_kind: 'admin',
      target_id: 'servers',
      detail: { changed: ['koala_password', 'koala_url', 'koala_username'], koala_username: KOALA_B.username },
    });
    expect(Object.keys(audit.body.data[0].detail)).not.toContain('koala_password');
    expect(JSON.stringify(audit.body)).not.toContain(KOALA_B.password);
  });

  it('PUT with the mask (or without the password) keeps the stored password', async () => {
    const res = await putServers({ koala_password: '******', koala_username: KOALA_B.username });
    expect(res.status).toBe(200);
    koalaB.expireSessions(); // forces a new login, with whatever password is in force
    expect((await h.request('GET', '/v1/subject/binding', { token: staff })).status).toBe(200);
    expect(koalaB.logins).toBe(2);
  });

  it("PUT a new cloud URL (with the admin's own password): WeChat calls go there from the next call on", async () => {
    expect((await putServers({ cloud_url: cloudB.url, admin_password: adminPassword })).status).toBe(200);
    const before = cloudB.server.received.length;
    await h.request('GET', '/v1/wechat/is_binding', { token: await h.session('wx-config-someone') });
    expect(cloudB.server.received.length).toBeGreaterThan(before);
    // Back to the harness's cloud, where the test bindings live.
    expect((await putServers({ cloud_url: h.sims.cloud.url, admin_password: adminPassword })).status).toBe(200);
  });
});

describe('templates', () => {
  const invite = async () => {
    const phone = newPhone();
    const res = await h.request('POST', '/v1/subject', {
      token: staff,
      body: { name: '模板访客', phone, interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const sms = await h.waitFor(() => h.sims.sms.messages().find((m) => m.phone === phone), { what: 'the invitation SMS' });
    return { ...sms, id: res.body.data.id as number };
  };

  it("GET: every event with the environment's ids", async () => {
    // Koala B has the demo staff too; use the harness's Koala again for the applications below.
    expect((await putServers({ koala_url: h.sims.koala.url, koala_username: h.sims.koala.username, koala_password: h.sims.koala.password })).status).toBe(200);
    const res = await h.request('GET', '/v1/config/templates', { token: admin });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.data).sort()).toEqual([...TEMPLATE_NAMES].sort());
    expect(res.body.data.signin_to_visitor).toEqual({
      sms: 'SMS_TPL_SIGNIN_TO_VISITOR',
      wechat: 'WX_TPL_SIGNIN_TO_VISITOR',
      sms_source: 'environment',
      wechat_source: 'environment',
    });
  });

  it('PUT overrides one event: new applications use the stored ids; null goes back to the environment', async () => {
    const res = await h.request('PUT', '/v1/config/templates', {
      token: admin,
      body: { approval_pass_to_visitor: { sms: 'SMS_900001', wechat: 'wx-tpl-override_1' } },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.approval_pass_to_visitor).toEqual({
      sms: 'SMS_900001',
      wechat: 'wx-tpl-override_1',
      sms_source: 'database',
      wechat_source: 'database',
    });
    expect(res.body.data.approval_reminder_to_employee.sms_source).toBe('environment');

    const sms = await invite();
    expect(sms.template_code).toBe('SMS_900001');
    // The visitor has no WeChat binding, so the message is skipped; its row names the template.
    const rows = await notificationsOf(h, sms.id);
    expect(rows.filter((r) => r.channel === 'wechat').map((r) => (r.payload as { tplMessageId: string }).tplMessageId)).toEqual(['wx-tpl-override_1']);

    const back = await h.request('PUT', '/v1/config/templates', { token: admin, body: { approval_pass_to_visitor: { sms: null } } });
    expect(back.body.data.approval_pass_to_visitor).toMatchObject({
      sms: 'SMS_TPL_APPROVAL_PASS_TO_VISITOR',
      sms_source: 'environment',
      wechat: 'wx-tpl-override_1',
    });
    expect((await invite()).template_code).toBe('SMS_TPL_APPROVAL_PASS_TO_VISITOR');
  });

  it('the verification-code template too: the next code goes out with the stored id', async () => {
    expect((await h.request('PUT', '/v1/config/templates', { token: admin, body: { verification_code: { sms: 'SMS_900002' } } })).status).toBe(200);
    const phone = newPhone();
    const res = await h.request('POST', '/v1/sms/code', { token: await h.session('wx-config-code'), body: { phone } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(
      h.sims.sms
        .messages()
        .filter((m) => m.phone === phone)
        .map((m) => m.template_code),
    ).toEqual(['SMS_900002']);
    expect((await h.request('PUT', '/v1/config/templates', { token: admin, body: { verification_code: { sms: null } } })).status).toBe(200);
  });

  it('bad input: unknown event, bad id, bad shape → 400; nothing changes', async () => {
    const before = (await h.request('GET', '/v1/config/templates', { token: admin })).body.data;
    for (const body of [
      { no_such_event: { sms: 'SMS_1' } },
      { signin_to_visitor: { sms: 'has space' } },
      { signin_to_visitor: { sms: 'x'.repeat(65) } },
      { signin_to_visitor: { fax: 'X' } },
      { signin_to_visitor: 'SMS_1' },
      [],
    ]) {
      expectError(await h.request('PUT', '/v1/config/templates', { token: admin, body }), 400, 'VALIDATION_FAILED');
    }
    expect((await h.request('GET', '/v1/config/templates', { token: admin })).body.data).toEqual(before);
  });
});
