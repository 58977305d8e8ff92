import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anApplication, aStaff, httpApi } from '../helpers/factories.js';
import { chromiumState, launchBrowser, settled, startSimulatedService } from './service.js';

/**
 * The pass link of a sign-in SMS, opened in a phone's own browser (not WeChat: no session, no
 * OAuth): `/p/{code}` shows the pass full screen; once the visit is checked out the same link
 * says the pass is over, without sending anyone to sign in. Runs once (the PGlite project).
 */
const SHOTS = process.env.LAIFANG_SCREENSHOTS;

describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg' && chromiumState() === 'present')(
  'the SMS pass link in a browser without a session',
  { timeout: 60_000 },
  () => {
    let service: Awaited<ReturnType<typeof startSimulatedService>>;
    let browser: Awaited<ReturnType<typeof launchBrowser>>;
    let page: Page;
    const problems: string[] = [];

    beforeAll(async () => {
      [service, browser] = await Promise.all([
        startSimulatedService(),
        launchBrowser({
          viewport: { width: 375, height: 667 },
          deviceScaleFactor: 2,
          isMobile: true,
          hasTouch: true,
          // Safari on an iPhone: the SMS app opens links there, not in WeChat.
          userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
        }),
      ]);
      page = browser.context.pages()[0] ?? (await browser.context.newPage());
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    }, 90_000);
    afterAll(async () => {
      await browser?.close();
      await service?.close();
      expect(problems).toEqual([]);
    });

    const post = async (path: string, body: unknown, authorization?: string) => {
      const res = await fetch(`${service.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(body),
      });
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
      return ((await res.json()) as { data: any }).data;
    };

    /** The code of the newest pass SMS to a phone, once the worker has sent it. */
    async function passCode(phone: string): Promise<string> {
      const sms = service.runtime.simulators!.sms;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        const m = sms
          .messages()
          .filter((x) => x.phone === phone && typeof x.params.code === 'string')
          .at(-1);
        if (m) return m.params.code!;
      }
      throw new Error(`no pass SMS to ${phone}`);
    }

    it('opens the pass from the SMS link; after check-out the link says it is over', async () => {
      const api = httpApi(service.base, service.runtime);
      const staff = await aStaff(api, 'zhangwei', { openid: 'demo-staff-zhangwei' });
      const now = Math.floor(Date.now() / 1000);
      const visitorPhone = '13900000061';
      const record = await anApplication(api, {
        by: staff,
        visitor: { name: '短信访客', phone: visitorPhone },
        window: { start_time: now - 60, end_time: now + 3600 },
      });
      const admin = (await post('/v1/admin/session', { username: 'admin', password: 'laifang-demo-admin' })).token as string;
      const kiosk = (await post('/v1/devices', { name: '前台短信测试', kind: 'kiosk' }, `Bearer ${admin}`)).token as string;
      await post('/v1/visit/signin', { phone: visitorPhone }, `Device ${kiosk}`);
      const code = await passCode(visitorPhone);

      // A fresh browser profile that never signed in.
      await page.goto(`${service.base}/p/${code}`);
      await page.getByText('请调高屏幕亮度，将二维码对准闸机扫码口').waitFor();
      expect(page.url()).toBe(`${service.base}/h5/#/pass?k=${code}`);
      await page.getByText('短信访客').waitFor();
      await page.getByText(`被访人：${staff.name}`).waitFor();
      await page.getByText(/有效时间：.*（北京时间）/).waitFor();
      await page.getByText(/当前时间 \d\d:\d\d:\d\d/).waitFor();
      const qr = page.getByAltText('通行二维码');
      await qr.waitFor();
      await page.waitForFunction(() => ((document.querySelector('img[alt="通行二维码"]') as HTMLImageElement | null)?.naturalWidth ?? 0) > 100);
      expect(await qr.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBeGreaterThan(100);
      // Still no session, and no detour through the entry page.
      expect(await page.evaluate(() => localStorage.getItem('laifang.session'))).toBeNull();
      expect(await page.getByText('登录').count()).toBe(0);
      if (SHOTS) {
        await settled(page);
        await page.screenshot({ path: join(SHOTS, '12-pass-from-sms.png'), scale: 'css' });
      }

      // Checked out at the kiosk: the same link now says so, and offers no sign-in.
      await post('/v1/visit/signout', { id: record.id }, `Device ${kiosk}`);
      await page.reload();
      await page.getByText(/通行码已失效：本次来访已签退或已结束/).waitFor();
      expect(await page.getByText(/重新签到|登录/).count()).toBe(0);
      await page.goto(`${service.base}/p/${code}`);
      await page.getByText('通行码已失效').first().waitFor();

      // A code that was never sent.
      await page.goto(`${service.base}/h5/#/pass?k=AAAAAAAAAAAA`);
      await page.getByText('没有找到这个通行码，请核对短信中的链接是否完整。').waitFor();
    });
  },
);
