import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H5_DIST_DIR } from '../../src/http/h5-pages.js';
// @ts-expect-error -- a plain .mjs script without types
import { firstPageJs } from '../../scripts/web-size.mjs';
import { anApplication, aStaff, httpApi } from '../helpers/factories.js';
import { chromiumState, launchBrowser, settled, startSimulatedService } from './service.js';

/**
 * The admin console (/admin/, Element Plus) in Debian's Chromium, desktop-sized, against the
 * service in simulated mode as `npm start` runs it (demo admin admin / laifang-demo-admin): log
 * in (a wrong password first), find records by filters (a filter the server refuses says what
 * to change), check a visit out and delete records, change a template id, register and revoke
 * a device, read the audit log in words. test/e2e/admin-pages.test.ts checks every page's
 * layout at 1280×800 and 768×1024. Runs once (the PGlite project).
 */

const state = chromiumState();
if (state === 'missing-skip') {
  console.warn('\n!!! SKIPPING the admin console browser tests: /usr/bin/chromium is missing. Install it: apt-get install -y chromium fonts-wqy-zenhei\n');
}
const SHOTS = process.env.LAIFANG_SCREENSHOTS;

describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg' && state === 'missing-fail')('admin console (browser)', () => {
  it('needs Chromium at /usr/bin/chromium in CI', () => {
    expect(state, 'CI must install chromium and fonts-wqy-zenhei (.ci/run does)').toBe('present');
  });
});

describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg' && state === 'present')('admin console (browser)', { timeout: 60_000 }, () => {
  let service: Awaited<ReturnType<typeof startSimulatedService>>;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const pageProblems: string[] = [];
  const ids: Record<string, number> = {};
  const now = Math.floor(Date.now() / 1000);

  async function call(method: string, path: string, opts: { token?: string; device?: string; body?: unknown } = {}) {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.device) headers.authorization = `Device ${opts.device}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${service.base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    return { status: res.status, body: (await res.json()) as { data: any; error?: string } };
  }

  beforeAll(async () => {
    [service, browser] = await Promise.all([startSimulatedService(), launchBrowser({ viewport: { width: 1280, height: 800 } })]);
    context = browser.context;
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (/Content.Security.Policy|Refused to/i.test(msg.text())) pageProblems.push(`console: ${msg.text()}`);
    });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });

    // Records made through the API: 张伟 invites three visitors; one of them is signed in at a kiosk.
    const api = httpApi(service.base, service.runtime);
    const staff = await aStaff(api, 'zhangwei', { openid: 'demo-staff-zhangwei' });
    const window = { start_time: now + 120, end_time: now + 7200 };
    const invite = async (name: string, phone: string, retinues: Array<{ name: string; phone: string }> = []) =>
      (await anApplication(api, { by: staff, visitor: { name, phone }, window, retinues })).id;
    ids.found = await invite('孙测试', '13700000011', [{ name: '周同伴', phone: '13700000012' }]);
    ids.gone = await invite('钱删除', '13700000022');
    ids.inside = await invite('吴在访', '13700000033');
    const admin = (await call('POST', '/v1/admin/session', { body: { username: 'admin', password: 'laifang-demo-admin' } })).body.data.token as string;
    const kiosk = (await call('POST', '/v1/devices', { token: admin, body: { name: '测试签到机', kind: 'kiosk' } })).body.data.token as string;
    expect((await call('POST', '/v1/visit/signin', { device: kiosk, body: { phone: '13700000033' } })).status).toBe(200);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    expect(pageProblems).toEqual([]);
  });

  const shot = async (name: string) => {
    if (!SHOTS) return;
    await settled(page);
    await page.screenshot({ path: join(SHOTS, `${name}.png`), scale: 'css' });
  };
  const field = (name: string) => page.locator(`[name="${name}"]`);
  const row = (prefix: string, id: number | string) => page.locator(`.el-table__body tr.${prefix}-${id}`);
  const bodyRows = () => page.locator('.el-table__body tr.el-table__row');
  /** Picks an option of an Element Plus select (its list is teleported to the body). */
  const choose = async (field: string, option: string) => {
    await page.locator(`[data-field="${field}"]`).click();
    await page.locator('.el-select-dropdown__item:visible', { hasText: new RegExp(`^${option}$`) }).click();
  };
  const confirmDialog = () => page.locator('.el-message-box').getByRole('button', { name: '确认' }).click();

  it('keeps the H5 first page small and free of the console (its own entry, ≤ 150 kB; the console ≤ 150 kB too, its pages apart)', () => {
    const h5 = firstPageJs(H5_DIST_DIR) as { files: string[]; gzipBytes: number };
    const adminHtml = readFileSync(join(H5_DIST_DIR, 'admin', 'admin.html'), 'utf8');
    const adminFiles = [...adminHtml.matchAll(/(?:src|href)="\/admin\/([^"]+\.js)"/g)].map((m) => m[1] as string);
    expect(adminFiles.length).toBeGreaterThan(0);
    const adminGz = adminFiles.reduce((n, f) => n + gzipSync(readFileSync(join(H5_DIST_DIR, 'admin', f)), { level: 9 }).length, 0);
    console.log(`H5 first page ${(h5.gzipBytes / 1024).toFixed(1)} kB, admin console ${(adminGz / 1024).toFixed(1)} kB gzipped JS`);
    // Each page is a chunk of its own, loaded when first shown.
    const assets = readdirSync(join(H5_DIST_DIR, 'admin', 'assets'));
    const gz = (f: string) => gzipSync(readFileSync(join(H5_DIST_DIR, 'admin', 'assets', f)), { level: 9 }).length;
    for (const name of ['RecordsPage', 'SettingsPage', 'DevicesPage', 'AuditPage', 'PrivacyPage', 'AccountPage']) {
      const chunk = assets.find((f) => f.startsWith(`${name}-`) && f.endsWith('.js'));
      expect(chunk, name).toBeDefined();
      expect(adminHtml).not.toContain(chunk!);
    }
    const lazy = assets.filter((f) => !adminFiles.includes(`assets/${f}`));
    const lazyJs = lazy.filter((f) => f.endsWith('.js')).reduce((n, f) => n + gz(f), 0);
    const lazyCss = lazy.filter((f) => f.endsWith('.css')).reduce((n, f) => n + gz(f), 0);
    console.log(`admin console loaded on demand: ${(lazyJs / 1024).toFixed(1)} kB JS, ${(lazyCss / 1024).toFixed(1)} kB CSS gzipped (${lazy.length} files)`);
    expect(h5.gzipBytes).toBeLessThanOrEqual(150 * 1024);
    expect(adminGz).toBeLessThanOrEqual(150 * 1024);
    expect(h5.files.some((f) => f.startsWith('admin/'))).toBe(false);
    for (const f of h5.files) expect(readFileSync(join(H5_DIST_DIR, f), 'utf8')).not.toContain('管理后台');
  });

  it('is served at /admin/ (/admin redirects) like /h5/: re-validated on every load, the same strict CSP', async () => {
    const redirect = await fetch(`${service.base}/admin`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/admin/');
    const [admin, h5] = await Promise.all([fetch(`${service.base}/admin/`), fetch(`${service.base}/h5/`)]);
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-type')).toMatch(/^text\/html/);
    expect(admin.headers.get('cache-control')).toBe('no-cache');
    expect(admin.headers.get('content-security-policy')).toBe(h5.headers.get('content-security-policy'));
    expect(await admin.text()).toMatch(/<script type="module" crossorigin src="\/admin\/assets\/admin-[\w-]+\.js"><\/script>/);
    const asset = await fetch(`${service.base}/admin/assets/${readdirSync(join(H5_DIST_DIR, 'admin', 'assets')).find((f) => f.endsWith('.js'))}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('logs in as the demo admin; a wrong password is explained in words', async () => {
    await page.goto(`${service.base}/admin`);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/admin/');
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByText('请填写用户名').waitFor();
    await field('username').fill('admin');
    await field('password').fill('not-the-password');
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('alert').getByText('用户名或密码不正确').waitFor();
    await shot('12-admin-login');
    await field('password').fill('laifang-demo-admin');
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('heading', { name: '来访记录' }).waitFor();
    await page.getByText('时间均为北京时间（UTC+8）').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('laifang.admin'))).toContain('adm1.');
  });

  it('finds a record by filters, with its companion and sign-in times in China time', async () => {
    await field('name').fill('周同伴');
    await field('interviewee_phone').fill('138 0000 0001');
    await choose('is_auth', '已授权');
    await page.getByRole('button', { name: '查询' }).click();
    await row('rec', ids.found!).waitFor();
    await expect.poll(() => bodyRows().count()).toBe(1);
    await row('rec', ids.found!).getByText('周同伴', { exact: false }).waitFor();
    await row('rec', ids.found!).getByText('员工邀请').waitFor();
    await page.locator('.el-pagination__total', { hasText: '共 1 条' }).waitFor();
    await page.getByRole('button', { name: '重置' }).click();
    await row('rec', ids.inside!).waitFor();
    await page.locator('.el-pagination__total', { hasText: '共 3 条' }).waitFor();
    const cells = row('rec', ids.inside!).locator('td');
    const signin = (await call('GET', `/v1/visit/records?type=web&name=吴在访`, { token: await adminToken() })).body.data[0].signin_time as number;
    const china = new Date((signin + 8 * 3600) * 1000).toISOString().slice(0, 16).replace('T', ' ');
    await expect.poll(() => cells.nth(10).innerText()).toBe(china);
    expect(await cells.nth(11).innerText()).toBe('—');
    await shot('12-admin-records');
  });

  it('a filter the server refuses says which one to change, clears the rows and offers no retry', async () => {
    await field('phone').fill('123 4567 8901');
    await page.getByRole('button', { name: '查询' }).click();
    const alert = page.getByRole('alert').filter({ hasText: '「访客手机号」不是有效的手机号' });
    await alert.waitFor();
    expect(await alert.innerText()).toContain('请修改筛选条件后再查询');
    expect(await alert.getByRole('button', { name: '重试' }).count()).toBe(0);
    await expect.poll(() => bodyRows().count()).toBe(0);
    expect(await page.locator('.el-pagination').count()).toBe(0);
    // Letters are caught before asking the server.
    await field('phone').fill('139abc');
    await page.getByRole('button', { name: '查询' }).click();
    await page.getByText('手机号只能含数字、空格、+ 和 -').waitFor();
    await page.getByRole('button', { name: '重置' }).click();
    await row('rec', ids.inside!).waitFor();
    await expect.poll(() => page.locator('.el-alert--error').count()).toBe(0);
  });

  it('deletes a record after confirmation; a visit in progress is checked out first, from the console', async () => {
    await row('rec', ids.gone!).getByRole('button', { name: '删除' }).click();
    await page.locator('.el-message-box').getByText('钱删除').waitFor();
    await confirmDialog();
    await page.getByText(`已删除记录 #${ids.gone}`).waitFor();
    await row('rec', ids.gone!).waitFor({ state: 'detached' });
    expect((await call('GET', '/v1/visit/records?type=web&name=钱删除', { token: await adminToken() })).body.data).toEqual([]);

    await row('rec', ids.inside!).getByRole('button', { name: '删除' }).click();
    await confirmDialog();
    await page.getByRole('alert').getByText('正在访问中（已签到、尚未签退），不能删除：请先点「签退」').waitFor();
    expect(await row('rec', ids.found!).getByRole('button', { name: '签退' }).count()).toBe(0);
    await row('rec', ids.inside!).getByRole('button', { name: '签退' }).click();
    await confirmDialog();
    await page.getByText(`已为记录 #${ids.inside} 签退`).waitFor();
    await expect.poll(() => row('rec', ids.inside!).locator('td').nth(11).innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(await row('rec', ids.inside!).getByRole('button', { name: '签退' }).count()).toBe(0);
    const rec = (await call('GET', '/v1/visit/records?type=web&name=吴在访', { token: await adminToken() })).body.data[0];
    expect(rec.signout_time).toEqual(expect.any(Number));

    await field('name').fill('没有这个人');
    await page.getByRole('button', { name: '查询' }).click();
    await page.getByText('没有符合条件的记录').waitFor();
  });

  it('changes a template id and it is saved; the Koala password is never shown', async () => {
    await page.getByRole('link', { name: '服务器与模板' }).click();
    await page.getByRole('heading', { name: '通知模板' }).waitFor();
    expect(await field('koala_password').inputValue()).toBe('');
    expect(await field('koala_password').getAttribute('placeholder')).toContain('已设置');
    await field('verification_code.sms').fill('SMS_E2E_4242');
    await page.getByRole('button', { name: '保存模板' }).click();
    await page.getByText('模板已保存').waitFor();
    const saved = (await call('GET', '/v1/config/templates', { token: await adminToken() })).body.data;
    expect(saved.verification_code).toMatchObject({ sms: 'SMS_E2E_4242', sms_source: 'database' });
    await page.reload();
    await page.getByRole('heading', { name: '通知模板' }).waitFor();
    expect(await field('verification_code.sms').inputValue()).toBe('SMS_E2E_4242');
    await field('signin_to_visitor.wechat').fill('bad id!');
    await page.getByRole('button', { name: '保存模板' }).click();
    await page.getByRole('alert').getByText('模板 ID 只能是 1–64 个字母、数字、_ 或 -').waitFor();
  });

  it('asks for the Koala password with a new Koala address, and for the admin password with a new cloud address', async () => {
    const before = (await call('GET', '/v1/config/servers', { token: await adminToken() })).body.data;
    const save = () => page.getByRole('button', { name: '保存服务器设置' }).click();
    await field('koala_url').fill('http://127.0.0.1:9');
    await expect.poll(() => field('koala_password').getAttribute('placeholder')).toContain('请重新输入 Koala 密码');
    await save();
    await page.getByRole('alert').getByText('修改 Koala 地址时必须重新输入 Koala 密码').waitFor();
    await field('koala_url').fill(before.koala_url);
    expect(await field('admin_password').count()).toBe(0);
    await field('cloud_url').fill('http://127.0.0.1:9');
    await save();
    await page.getByRole('alert').getByText('修改微信云服务地址时必须输入您的管理员密码').waitFor();
    await field('admin_password').fill('not-my-password');
    await save();
    await page.getByRole('alert').getByText('管理员密码错误，未保存').waitFor();
    expect((await call('GET', '/v1/config/servers', { token: await adminToken() })).body.data).toEqual(before);
    await field('admin_password').fill('laifang-demo-admin');
    await save();
    await page.getByText('服务器设置已保存').waitFor();
    expect((await call('GET', '/v1/config/servers', { token: await adminToken() })).body.data.cloud_url).toBe('http://127.0.0.1:9');
    await field('cloud_url').fill(before.cloud_url);
    await field('admin_password').fill('laifang-demo-admin');
    await save();
    await expect.poll(async () => (await call('GET', '/v1/config/servers', { token: await adminToken() })).body.data.cloud_url).toBe(before.cloud_url);
    expect(await field('admin_password').count()).toBe(0);
  });

  it('registers a device and shows its token once; revokes it after confirmation', async () => {
    await page.getByRole('link', { name: '设备' }).click();
    await page.locator('.el-table__body tr', { hasText: '测试签到机' }).waitFor();
    await field('device_name').fill('一楼闸机');
    await choose('device_kind', '闸机');
    await page.getByRole('button', { name: '注册' }).click();
    const token = (await page.locator('.token').innerText()).trim();
    expect(token).toMatch(/^dev_/);
    await page.getByText('设备令牌只显示这一次').waitFor();
    await shot('12-admin-devices');
    expect((await call('POST', '/v1/visit/qrcode', { device: token, body: { qrcode: 'x' } })).body.error).toBe('PASS_INVALID');
    await page.reload();
    const created = page.locator('.el-table__body tr', { hasText: '一楼闸机' });
    await created.waitFor();
    expect(await page.locator('.token').count()).toBe(0);
    expect(await page.content()).not.toContain(token);

    await created.getByRole('button', { name: '吊销' }).click();
    await confirmDialog();
    await page.getByText('已吊销「一楼闸机」').waitFor();
    await created.getByText(/已吊销/).waitFor();
    expect((await call('POST', '/v1/visit/qrcode', { device: token, body: { qrcode: 'x' } })).status).toBe(401);
  });

  it('lists those changes in the audit log in words, with links; filters by action and by who acted', async () => {
    await page.getByRole('link', { name: '审计日志' }).click();
    for (const action of ['application-delete', 'visit-signout', 'config-templates-update', 'device-register', 'device-revoke'])
      await page.locator(`tr.action-${action}`).first().waitFor();
    const revoke = page.locator('tr.action-device-revoke').first();
    expect(await revoke.innerText()).toContain('管理员 admin');
    expect(await revoke.innerText()).toContain('吊销设备');
    await revoke.getByRole('link', { name: '设备「一楼闸机」' }).waitFor();
    const signout = page.locator('tr.action-visit-signout').first();
    await signout.getByRole('link', { name: `来访记录 #${ids.inside}（吴在访 拜访 张伟）` }).waitFor();
    expect(await signout.innerText()).toContain('通行证：1');
    const servers = page.locator('tr.action-config-servers-update').first();
    expect(await servers.innerText()).toContain('微信云服务地址');
    expect(await page.locator('.el-table__body').innerText()).not.toMatch(/[a-z][A-Z]|管理员 1\b|\{"/);
    await shot('12-admin-audit');

    await choose('action', '吊销设备');
    await page.getByRole('button', { name: '查询' }).click();
    await expect.poll(() => bodyRows().count()).toBe(1);
    await field('actor').fill('测试签到机');
    await page.getByRole('button', { name: '查询' }).click();
    await page.getByText('没有符合条件的日志').waitFor();
    await page.getByRole('button', { name: '重置' }).click();
    await expect.poll(() => bodyRows().count()).toBeGreaterThanOrEqual(5);

    // The link opens that record.
    await page.locator('tr.action-visit-signout').first().getByRole('link').click();
    await page.getByRole('heading', { name: '来访记录' }).waitFor();
    await row('rec', ids.inside!).waitFor();
    await expect.poll(() => bodyRows().count()).toBe(1);
    await page.getByText(`只显示记录 #${ids.inside}`).waitFor();
  });

  it('pages through the audit log (20 a page)', async () => {
    const admin = await adminToken();
    for (let i = 0; i < 21; i++)
      expect((await call('POST', '/v1/devices', { token: admin, body: { name: `翻页设备${i}`, kind: 'turnstile' } })).status).toBe(200);
    await page.getByRole('link', { name: '审计日志' }).click();
    await choose('action', '注册设备');
    await page.getByRole('button', { name: '查询' }).click();
    const pager = page.locator('.el-pagination');
    await expect.poll(() => bodyRows().count()).toBe(20);
    expect(await pager.locator('.btn-prev').isDisabled()).toBe(true);
    await pager.locator('.btn-next').click();
    await expect.poll(() => pager.locator('.number.is-active').innerText()).toBe('2');
    await expect.poll(() => bodyRows().count()).toBeGreaterThanOrEqual(2);
    expect(await pager.locator('.btn-next').isDisabled()).toBe(true);
  });

  it('exports what is held about one phone, and erases it in words with the true counts', async () => {
    await page.getByRole('link', { name: '个人信息' }).click();
    await field('privacy_phone').fill('137 0000 0011');
    await page.getByRole('button', { name: '导出' }).click();
    await page.getByRole('heading', { name: '导出结果' }).waitFor();
    expect(await page.locator('[data-export]').innerText()).toContain('孙测试');
    const notes = (await call('GET', '/v1/privacy/export?phone=13700000011', { token: await adminToken() })).body.data.notifications.length as number;
    const erase = page.getByRole('button', { name: '永久删除' });
    expect(await erase.isDisabled()).toBe(true);
    await field('erase_confirm').fill('删除');
    expect(await erase.isDisabled()).toBe(true);
    await field('erase_confirm').fill('删除 13700000011');
    await erase.click();
    await page.getByText('已删除手机号 13700000011 的个人信息').waitFor();
    expect(await page.locator('[data-count="applications_deleted"]').innerText()).toBe('1');
    expect(Number(await page.locator('[data-count="notifications_deleted"]').innerText())).toBeGreaterThanOrEqual(notes);
    expect(await page.locator('[data-erased]').innerText()).toContain('短信和微信通知');
    expect(await page.locator('[data-erased]').innerText()).not.toMatch(/_deleted|notHeldHere|WeChat binding/);
    await shot('12-admin-privacy');
    expect((await call('GET', '/v1/visit/records?type=web&phone=13700000011', { token: await adminToken() })).body.data).toEqual([]);
  });

  it('says a wrong old password in words; back to login when the token stops working', async () => {
    await page.getByRole('link', { name: '修改密码' }).click();
    await field('old_password').fill('wrong-old-password');
    await field('new_password').fill('short');
    await field('repeat_password').fill('short');
    await page.getByRole('button', { name: '修改密码' }).click();
    await page.getByText('新密码至少 10 个字符').first().waitFor();
    await field('new_password').fill('a-new-password-1');
    await field('repeat_password').fill('a-new-password-1');
    await page.getByRole('button', { name: '修改密码' }).click();
    await page.getByRole('alert').getByText('原密码不正确').waitFor();
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('laifang.admin') ?? '{}') as { token: string };
      sessionStorage.setItem('laifang.admin', JSON.stringify({ ...s, token: `${s.token}x` }));
    });
    await page.goto(`${service.base}/admin/#/audit`);
    await page.reload();
    await page.getByText('登录已失效').waitFor();
    await field('username').waitFor();
  });

  async function adminToken(): Promise<string> {
    return (await call('POST', '/v1/admin/session', { body: { username: 'admin', password: 'laifang-demo-admin' } })).body.data.token as string;
  }
});
