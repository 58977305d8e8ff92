import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { CHROMIUM, chromiumState, smsCodeFrom } from '../e2e/service.js';
import { openTestDatabase, testLogger } from '../helpers/harness.js';
import { freePort } from '../helpers/service-process.js';
import { nginxProgram, ROOT, startNginx, type Nginx } from './helpers.js';

/**
 * The README's newcomer flow in Debian's Chromium, through deploy/nginx/laifang.conf over HTTPS
 * (a self-signed certificate: the browser is told to accept it) with the service as `npm start`
 * runs it (simulated) plus TRUST_PROXY=127.0.0.1 (nginx) and PUBLIC_URL on the HTTPS address: sign in from
 * the login picker, bind as demo staff with the SMS code, invite a visitor, switch to the
 * visitor, who sees the invitation. Every script comes from nginx gzipped, cached for a year.
 * Runs once (the PGlite project), like test/e2e.
 */

const nginxBin = nginxProgram();
const browser = chromiumState();
const runs = process.env.LAIFANG_TEST_DB !== 'pg';

describe.runIf(runs && (nginxBin.state === 'missing-fail' || browser === 'missing-fail'))('H5 pages through nginx', () => {
  it('needs nginx and Chromium in CI', () => {
    expect({ nginx: nginxBin.state, chromium: browser }, 'CI installs them (scripts/ci-deploy-prereqs.sh, .ci/run)').toEqual({
      nginx: 'present',
      chromium: 'present',
    });
  });
});

describe.runIf(runs && nginxBin.state === 'present' && browser === 'present')('H5 pages through nginx over HTTPS (browser)', { timeout: 60_000 }, () => {
  let runtime: Runtime;
  let nginx: Nginx;
  let context: BrowserContext;
  let page: Page;
  const cleanup: Array<() => Promise<void> | void> = [];
  const scripts: Array<{ url: string; encoding?: string; cache?: string }> = [];
  const problems: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
    const port = await freePort();
    const httpsPort = await freePort();
    const files = mkdtempSync(join(tmpdir(), 'laifang-nginx-h5-files-'));
    const db = await openTestDatabase();
    cleanup.push(async () => {
      await db.drop();
      rmSync(files, { recursive: true, force: true });
    });
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `https://127.0.0.1:${httpsPort}`,
      TRUST_PROXY: '127.0.0.1',
      DATABASE_URL: db.url,
      STORAGE_LOCAL_DIR: files,
      RATE_LIMIT_PER_MINUTE: '0',
      NOTIFY_POLL_MS: '500',
    });
    runtime = await createRuntime(config, { database: db.database, seedDemoBindings: true, logger: testLogger('info') });
    await runtime.app.listen({ port, host: '127.0.0.1' });
    nginx = await startNginx(nginxBin.path!, port, { httpsPort });
    const profile = mkdtempSync(join(tmpdir(), 'laifang-chromium-'));
    cleanup.push(() => rmSync(profile, { recursive: true, force: true }));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreHTTPSErrors: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 375, height: 667 },
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50',
    });
    context.setDefaultTimeout(15_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('response', (res) => {
      if (res.request().resourceType() === 'script') {
        const h = res.headers();
        scripts.push({ url: res.url(), encoding: h['content-encoding'], cache: h['cache-control'] });
      }
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await nginx?.stop();
    await runtime?.close();
    for (const c of cleanup.reverse()) await c();
  });

  const field = (name: string) => page.locator(`input[name="${name}"], textarea[name="${name}"]`);

  it('opens the entry page on HTTPS; every script from nginx, cached a year, gzipped when worth it', async () => {
    await page.goto(`${nginx.base}/h5`);
    await expect.poll(() => page.url()).toBe(`${nginx.base}/h5/#/login`);
    await page.getByText('张伟 (员工, 研发部)').waitFor();
    await page.waitForLoadState('networkidle');
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) {
      const url = new URL(s.url);
      expect(url.origin).toBe(nginx.base);
      expect(s.cache, s.url).toBe('public, max-age=31536000, immutable');
      // gzip_min_length 512: smaller files are not worth it.
      const size = statSync(join(ROOT, 'web/dist', url.pathname.slice('/h5/'.length))).size;
      expect(s.encoding, `${s.url} (${size} bytes)`).toBe(size >= 512 ? 'gzip' : undefined);
    }
  });

  it('binds a new WeChat as demo staff with the SMS code; the landed avatar comes over HTTPS', async () => {
    await page.getByText('新的微信用户（尚未绑定）').click();
    await page.getByRole('tab', { name: '我是员工' }).click();
    await field('name').fill('张伟');
    await field('phone').fill('13800000001');
    await page.getByRole('button', { name: '获取验证码' }).click();
    await page.getByRole('button', { name: /\d+ 秒后重发/ }).waitFor();
    await field('sms_code').fill(await smsCodeFrom(runtime.simulators!.sms.url, '13800000001'));
    await page.getByRole('button', { name: '绑定员工身份' }).click();
    await page.getByText('研发部 · 138****0001').waitFor();
    const avatar = page.locator('.avatar img');
    await expect.poll(() => avatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    expect(new URL((await avatar.getAttribute('src')) ?? '').origin).toBe(nginx.base);
  });

  it('invites a visitor, who then sees the invitation', async () => {
    await page.getByText('邀请访客').first().click();
    await field('name').fill('王五');
    await field('phone').fill('13900000001');
    await page.getByRole('button', { name: '发送邀请' }).click();
    await expect.poll(() => page.url()).toMatch(/#\/records\?tab=mine$/);
    await page.locator('.card', { hasText: '王五' }).getByText('已授权').waitFor();

    await page.goto(`${nginx.base}/h5/#/`);
    await page.getByRole('button', { name: '切换演示用户' }).click();
    await page.locator('[data-user="demo-visitor-wangwu"]').click();
    await page.getByText('来访记录').first().click();
    const card = page.locator('.card', { hasText: '王五' });
    await card.getByText('我是访客').waitFor();
    await card.getByText('已授权').waitFor();
    expect(problems).toEqual([]);
  });
});
