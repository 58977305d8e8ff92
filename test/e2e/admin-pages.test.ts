import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anApplication, aStaff, httpApi } from '../helpers/factories.js';
import { layoutProblems, SIZES } from './admin-layout.js';
import { chromiumState, launchBrowser, settled, startSimulatedService } from './service.js';

/**
 * Every page of the admin console at 1280×800 and 768×1024, with data in it: nothing cut off
 * at the right or scrolling the page sideways, no short label broken onto two lines (measured
 * on the element boxes), no page error and no CSP refusal; the fixed columns stay in view.
 * `npm run screenshots` takes each page's picture here (LAIFANG_SCREENSHOTS).
 */
const SHOTS = process.env.LAIFANG_SCREENSHOTS;

describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg' && chromiumState() === 'present')('admin console pages (browser, two sizes)', { timeout: 90_000 }, () => {
  let service: Awaited<ReturnType<typeof startSimulatedService>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    [service, browser] = await Promise.all([startSimulatedService(), launchBrowser({ viewport: SIZES[0] })]);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (/Content.Security.Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    // Records with long names and companions, one visit in progress, devices: the audit log fills.
    const api = httpApi(service.base, service.runtime);
    const staff = await aStaff(api, 'zhangwei', { openid: 'demo-staff-zhangwei' });
    const now = Math.floor(Date.now() / 1000);
    const window = { start_time: now + 120, end_time: now + 7200 };
    for (let i = 0; i < 4; i++)
      await anApplication(api, {
        by: staff,
        visitor: { name: `欧阳测试${i}`, phone: `1370000010${i}` },
        window,
        retinues: [{ name: `司马同伴${i}`, phone: `1370000020${i}` }],
        body: { come_from: '北京某某科技有限公司（长名称用于测试省略号）', remark: '' },
      });
    const admin = await login();
    const kiosk = await post('/v1/devices', admin, { name: '一楼大堂前台签到机', kind: 'kiosk' });
    await post('/v1/devices', admin, { name: '东门闸机', kind: 'turnstile' });
    await fetch(`${service.base}/v1/visit/signin`, {
      method: 'POST',
      headers: { authorization: `Device ${kiosk.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '13700000100' }),
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  async function login(): Promise<string> {
    const res = await fetch(`${service.base}/v1/admin/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'laifang-demo-admin' }),
    });
    return ((await res.json()) as { data: { token: string } }).data.token;
  }
  async function post(path: string, token: string, body: unknown) {
    const res = await fetch(`${service.base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return ((await res.json()) as { data: { token: string } }).data;
  }

  /** Each page, and what shows that it has loaded its data. */
  const PAGES = [
    { key: 'records', title: '来访记录', ready: '.el-table__body tr.el-table__row', zone: true },
    { key: 'settings', title: '服务器与模板', ready: '.el-table__body tr.el-table__row', zone: false },
    { key: 'devices', title: '设备', ready: '.el-table__body tr.el-table__row', zone: true },
    { key: 'audit', title: '审计日志', ready: '.el-table__body tr.el-table__row', zone: true },
    { key: 'privacy', title: '个人信息', ready: '[name="privacy_phone"]', zone: true },
    { key: 'account', title: '修改密码', ready: '[name="old_password"]', zone: false },
  ];

  async function check(what: string) {
    await settled(page);
    expect(await layoutProblems(page), what).toEqual([]);
    // The fixed columns (the id at the left, the actions at the right) are in view.
    const fixed = await page.locator('.el-table th.el-table-fixed-column--right').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right));
    for (const right of fixed) expect(right, `${what}: the fixed column`).toBeLessThanOrEqual(page.viewportSize()!.width);
    expect(problems, what).toEqual([]);
  }

  it('the layout check finds a label broken onto two lines and an element cut off at the right', async () => {
    await page.goto(`${service.base}/admin/`);
    await page.locator('#app *').first().waitFor();
    await page.evaluate(() => {
      const probe = document.createElement('div');
      probe.id = 'probe';
      probe.innerHTML = '<button style="width: 22px; padding: 0">删除</button><div style="position: absolute; left: 1200px; width: 400px; height: 10px"></div>';
      document.body.append(probe);
    });
    const found = await layoutProblems(page);
    await page.evaluate(() => document.getElementById('probe')?.remove());
    expect(found.some((p) => p.startsWith('label wraps onto 2 lines') && p.includes('删除'))).toBe(true);
    expect(found.some((p) => p.startsWith('cut off at the right'))).toBe(true);
    expect(await layoutProblems(page)).toEqual([]);
  });

  for (const size of SIZES) {
    it(`the login page at ${size.width}×${size.height}`, async () => {
      await page.setViewportSize(size);
      await page.goto(`${service.base}/admin/`);
      await page.evaluate(() => sessionStorage.clear());
      await page.reload();
      await page.locator('[name="username"]').waitFor();
      await check(`login ${size.width}`);
      await page.locator('[name="username"]').fill('admin');
      await page.locator('[name="password"]').fill('laifang-demo-admin');
      await page.getByRole('button', { name: '登录' }).click();
      await page.getByRole('heading', { name: '来访记录' }).waitFor();
    });

    for (const p of PAGES) {
      it(`${p.title} at ${size.width}×${size.height}`, async () => {
        await page.setViewportSize(size);
        await page.goto(`${service.base}/admin/#/${p.key}`);
        await page.getByRole('heading', { name: p.title, exact: true, level: 1 }).waitFor();
        await page.locator(p.ready).first().waitFor();
        await expect.poll(() => page.locator('.el-loading-mask:visible').count()).toBe(0);
        expect(await page.locator('[data-zone]').count()).toBe(p.zone ? 1 : 0);
        await check(`${p.key} ${size.width}`);
        if (SHOTS) await page.screenshot({ path: join(SHOTS, `13-admin-${p.key}-${size.width}.png`), scale: 'css', fullPage: p.key !== 'settings' });
      });
    }

    it(`the dialogs and the date-range picker at ${size.width}×${size.height}`, async () => {
      await page.setViewportSize(size);
      await page.goto(`${service.base}/admin/#/records`);
      await page.locator('.el-table__body tr.el-table__row').first().waitFor();
      await page.locator('.el-table__body tr.el-table__row').first().getByRole('button', { name: '删除' }).click();
      await page.locator('.el-message-box').waitFor();
      await check(`delete dialog ${size.width}`);
      await page.locator('.el-message-box').getByRole('button', { name: '取消' }).click();
      await page.locator('.el-message-box').waitFor({ state: 'hidden' });
      // The picker fills its form column, not more (Element Plus gives it a fixed width).
      const [picker, column] = await Promise.all([
        page.locator('[data-field="dates"] .el-date-editor').boundingBox(),
        page.locator('[data-field="dates"]').boundingBox(),
      ]);
      expect(picker!.x + picker!.width).toBeLessThanOrEqual(column!.x + column!.width + 1);
      await page.locator('[data-field="dates"]').click();
      await page.locator('.el-date-range-picker').waitFor();
      await check(`date-range picker ${size.width}`);
      // The picker speaks Chinese (zh-CN locale): months and weekdays.
      expect(await page.locator('.el-date-range-picker').innerText()).toMatch(/\d{4} 年\s*\d{1,2} 月[\s\S]*日/);
      if (SHOTS && size.width === 1280) await page.screenshot({ path: join(SHOTS, '13-admin-date-range.png'), scale: 'css' });
      await page.keyboard.press('Escape');
    });
  }
});
