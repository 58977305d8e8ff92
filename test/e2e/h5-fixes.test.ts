import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anApplication, aStaff, aVisitor, httpApi, type Api } from '../helpers/factories.js';
import { layoutProblems } from './layout.js';
import { chromiumState, launchPhone, settled, startSimulatedService } from './service.js';

/**
 * What a newcomer hit on a phone, in Chromium at 375 and 320 px wide, with the phone set to
 * New York time (the pages show China time whatever the phone's zone): the records a requester
 * finds, cards with long names, formatted phone numbers, limits, drafts, the profile, the icon.
 * Runs once (the PGlite project); h5.test.ts has the main flows.
 */

const state = chromiumState();
const CHINA = 8 * 3600;
/** Unix seconds of a China wall-clock time `days` from today. */
const chinaAt = (days: number, hour: number, minute = 0) => {
  const d = new Date(Date.now() + CHINA * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + days, hour, minute) / 1000 - CHINA;
};
const SIZES = [375, 320];
/** `npm run screenshots`: a picture of the long-name cards at 320 px. */
const SHOTS = process.env.LAIFANG_SCREENSHOTS;

describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg' && state === 'present')('H5 pages: what a newcomer hit', { timeout: 60_000 }, () => {
  let service: Awaited<ReturnType<typeof startSimulatedService>>;
  let phone: Awaited<ReturnType<typeof launchPhone>>;
  let page: Page;
  let api: Api;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    [service, phone] = await Promise.all([startSimulatedService(), launchPhone('America/New_York')]);
    api = httpApi(service.base, service.runtime);
    page = phone.context.pages()[0] ?? (await phone.context.newPage());
    page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  }, 90_000);
  afterAll(async () => {
    await phone?.close();
    await service?.close();
  });

  const field = (name: string) => page.locator(`input[name="${name}"], textarea[name="${name}"]`);
  async function signInAs(who: string) {
    await page.goto(`${service.base}/h5/#/login`);
    await page.locator(`[data-user="${who}"]`).click();
    await page.getByText('来访记录').first().waitFor();
  }
  /** The layout problems under `selector` at each phone width. */
  async function atEveryWidth(selector: string, before: () => Promise<void>): Promise<string[]> {
    const found: string[] = [];
    try {
      for (const width of SIZES) {
        await page.setViewportSize({ width, height: 667 });
        await before();
        found.push(...(await layoutProblems(page, selector)).map((p) => `${width} px: ${p}`));
      }
    } finally {
      await page.setViewportSize({ width: 375, height: 667 });
    }
    return found;
  }

  it('serves an icon: /favicon.ico answers, the first page logs no error', async () => {
    const res = await fetch(`${service.base}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/x-icon');
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    await page.goto(`${service.base}/h5/`);
    await page.getByText('张伟 (员工, 研发部)').waitFor();
    await page.waitForLoadState('networkidle');
    expect(consoleErrors).toEqual([]);
  });

  it('a requester finds the approved request under 全部, upcoming first, whoever proposed each visit', async () => {
    const visitor = await aVisitor(api, { openid: 'demo-visitor-zhaoliu', phone: '13900000002', name: '赵六' });
    const lina = await aStaff(api, 'lina');
    // Proposed by the visitor (later), and an invitation by a host (sooner), created in that order.
    const mine = await anApplication(api, { by: visitor, host: lina, window: { start_time: chinaAt(3, 10), end_time: chinaAt(3, 11) } });
    const zhang = await aStaff(api, 'zhangwei');
    await anApplication(api, { by: zhang, visitor: { name: '赵六', phone: visitor.phone }, window: { start_time: chinaAt(2, 14), end_time: chinaAt(2, 15) } });
    expect((await api.request('PUT', `/v1/auth/${mine.id}`, { token: lina.token })).status).toBe(200);

    // The approval message links to #/records: the visit is there, approved, without choosing a tab.
    await signInAs('demo-visitor-zhaoliu');
    await page.goto(`${service.base}/h5/#/records`);
    const cards = page.locator('.card');
    await expect.poll(() => cards.count()).toBe(2);
    await page.getByRole('tab', { name: '全部', selected: true }).waitFor();
    expect(await cards.nth(0).textContent()).toContain('张伟');
    expect(await cards.nth(1).textContent()).toContain('李娜');
    await cards.nth(1).getByText('已授权').waitFor();
    await cards.nth(1).getByText('我申请的').waitFor();
    // China time, said so, on a phone set to New York: 10:00–11:00 in Beijing.
    expect(await cards.nth(1).locator('dd').first().textContent()).toMatch(/^\d{4}-\d{2}-\d{2} 10:00 – 11:00\s*北京时间$/);
    await cards.nth(1).getByText('其他').waitFor();
  });

  it('record cards hold long names, a company and many companions at 375 and 320 px', async () => {
    const zhang = await aStaff(api, 'zhangwei', { openid: 'demo-staff-zhangwei' });
    const long = 'Alexandria Konstantinopoulou-Papadimitriou'.slice(0, 32);
    await anApplication(api, {
      by: zhang,
      visitor: { name: long, phone: '13700000051' },
      retinues: Array.from({ length: 8 }, (_, i) => ({ name: `${'欧阳'.repeat(4)}${i}号随行人员名字很长`, phone: `1370000${String(1100 + i)}` })),
      body: { come_from: '北京某某某某某某科技股份有限公司上海分公司第二研发中心'.repeat(2), remark: '请在东门等候'.repeat(12) },
      window: { start_time: chinaAt(1, 9, 30), end_time: chinaAt(2, 9) },
    });
    await signInAs('demo-staff-zhangwei');
    const problems = await atEveryWidth('.card', async () => {
      await page.goto(`${service.base}/h5/#/records?tab=mine`);
      await page.locator('.card', { hasText: long }).waitFor();
    });
    expect(problems).toEqual([]);
    // The tags keep their words on one line next to (or below) the name.
    const tag = page.locator('.card', { hasText: long }).locator('.van-tag').first();
    expect(await tag.evaluate((el) => el.getBoundingClientRect().height)).toBeLessThan(30);
    if (SHOTS) {
      await page.setViewportSize({ width: 320, height: 640 });
      await page.locator('.card', { hasText: long }).evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 100));
      await settled(page);
      await page.screenshot({ path: join(SHOTS, '13-records-long-320.png'), scale: 'css' });
      await page.setViewportSize({ width: 375, height: 667 });
    }
  });

  it('the home page: no 通行码 for staff, a visitor named without "微信昵称", fitting at 320 px', async () => {
    await signInAs('demo-staff-zhangwei');
    await page.getByText('研发部 · 138****0001').waitFor();
    expect(await page.getByText('通行码').count()).toBe(0);
    await signInAs('demo-visitor-zhaoliu');
    await page.getByText('手机号 139****0002').waitFor();
    expect(await page.locator('.profile').textContent()).not.toMatch(/微信昵称|微信用户/);
    // Named as in the visitor's own last application.
    await page.locator('.profile .who-name', { hasText: '赵六' }).waitFor();
    await page.getByText('通行码').first().waitFor();
    expect(await atEveryWidth('.profile, .menu', () => page.goto(`${service.base}/h5/#/`).then(() => page.locator('.profile').waitFor()))).toEqual([]);
  });

  it('the form: a working-hour slot in China time, formatted phones kept whole, limits said, a draft kept', async () => {
    await signInAs('demo-staff-zhangwei');
    await page.goto(`${service.base}/h5/#/apply`);
    await field('name').waitFor();
    await page.getByText('来访安排（时间为北京时间）').waitFor();
    const [start, end] = [await field('start_time').inputValue(), await field('end_time').inputValue()];
    const hourOf = (v: string) => Number(v.slice(11, 13)) + Number(v.slice(14, 16)) / 60;
    expect(hourOf(start)).toBeGreaterThanOrEqual(9);
    expect(hourOf(start)).toBeLessThanOrEqual(17);
    expect(hourOf(end)).toBeLessThanOrEqual(18);
    expect(start.slice(14)).toMatch(/^(00|30)$/);

    // "+86 137-0000-0051" fits and stays whole at 320 px; it becomes its 11 digits on leaving the field.
    const typed = await atEveryWidth('.van-cell-group', async () => {
      await field('phone').fill('+86 137-0000-0051');
      expect(await field('phone').inputValue()).toBe('+86 137-0000-0051');
    });
    expect(typed).toEqual([]);
    await field('name').click();
    await expect.poll(() => field('phone').inputValue()).toBe('13700000051');

    // Over a limit: nothing is cut, and the field says by how much.
    await field('name').fill('王'.repeat(40));
    await page.getByText('姓名最多 32 个字，现在 40 个字，请删去 8 个字').waitFor();
    expect(await field('name').inputValue()).toHaveLength(40);

    // A reload keeps what was typed.
    await field('name').fill('钱九');
    await field('come_from').fill('某某物流');
    await page.reload();
    await page.getByText('已恢复上次未提交的内容。').waitFor();
    expect([await field('name').inputValue(), await field('come_from').inputValue(), await field('phone').inputValue()]).toEqual([
      '钱九',
      '某某物流',
      '13700000051',
    ]);
    await page.getByRole('button', { name: '发送邀请' }).click();
    await expect.poll(() => page.url()).toMatch(/#\/records\?tab=mine$/);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('laifang.draft.')))).toEqual([]);
    await page.goto(`${service.base}/h5/#/apply`);
    await field('name').waitFor();
    expect(await field('name').inputValue()).toBe('');
    // A form only opened is no draft: a reload shows no "restored" line.
    await page.reload();
    await field('name').waitFor();
    await page.getByText('来访安排（时间为北京时间）').waitFor();
    expect(await page.getByText('已恢复上次未提交的内容。').count()).toBe(0);
  });

  it('toasts keep a phone number on one line', async () => {
    await page.goto(`${service.base}/h5/#/login`);
    await page.getByText('新的微信用户（尚未绑定）').click();
    await field('phone').fill('+86 139-0000-0066');
    await page.getByRole('button', { name: '获取验证码' }).click();
    await page.locator('.van-toast', { hasText: '139****0066' }).waitFor();
    expect(await layoutProblems(page, '.van-toast')).toEqual([]);
    expect(await page.locator('.van-toast').evaluate((el) => el.getBoundingClientRect().height)).toBeLessThan(140);
  });

  it('every page holds at 375 and 320 px, for staff and for a visitor (element boxes)', async () => {
    const found: string[] = [];
    for (const who of ['demo-staff-zhangwei', 'demo-visitor-zhaoliu']) {
      await signInAs(who);
      for (const route of ['#/', '#/apply', '#/records', '#/pass', '#/bind']) {
        const problems = await atEveryWidth('#app', async () => {
          await page.goto(`${service.base}/h5/${route}`);
          await page.waitForLoadState('networkidle');
          await page.locator('.van-nav-bar__title').first().waitFor();
        });
        found.push(...problems.map((p) => `${who} ${route} ${p}`));
      }
    }
    expect(found).toEqual([]);
  });

  // Last: the browser's clock stays fixed for the rest of the context.
  it('the default slot is the next one within working hours (China time), never at night', async () => {
    await signInAs('demo-staff-zhangwei');
    const slotAt = async (now: number) => {
      await page.clock.setFixedTime(now * 1000);
      await page.goto(`${service.base}/h5/#/apply`);
      await page.reload();
      await field('start_time').waitFor();
      return [await field('start_time').inputValue(), await field('end_time').inputValue()];
    };
    const day = (offset: number) => new Date((chinaAt(offset, 12) + CHINA) * 1000).toISOString().slice(0, 10);
    expect(await slotAt(chinaAt(1, 22, 10))).toEqual([`${day(2)} 09:00`, `${day(2)} 11:00`]);
    expect(await slotAt(chinaAt(1, 2, 0))).toEqual([`${day(1)} 09:00`, `${day(1)} 11:00`]);
    expect(await slotAt(chinaAt(1, 10, 5))).toEqual([`${day(1)} 11:00`, `${day(1)} 13:00`]);
    expect(await slotAt(chinaAt(1, 16, 20))).toEqual([`${day(1)} 17:00`, `${day(1)} 18:00`]);
    expect(await slotAt(chinaAt(1, 16, 50))).toEqual([`${day(2)} 09:00`, `${day(2)} 11:00`]);
    expect(await slotAt(chinaAt(1, 17, 10))).toEqual([`${day(2)} 09:00`, `${day(2)} 11:00`]);
  });
});
