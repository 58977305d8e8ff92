import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { openTestDatabase, testLogger } from '../helpers/harness.js';
import { freePort } from '../helpers/service-process.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * The service as `npm start` runs it: simulated mode, demo WeChat users bound, the H5 pages
 * built (scripts/build-web.mjs, a no-op when web/dist is fresh) and served at /h5/.
 */
export async function startSimulatedService(): Promise<{ runtime: Runtime; base: string; close(): Promise<void> }> {
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
  const port = await freePort();
  const files = mkdtempSync(join(tmpdir(), 'laifang-e2e-files-'));
  const { database, url, drop } = await openTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    STORAGE_LOCAL_DIR: files,
    RATE_LIMIT_PER_MINUTE: '0',
    APPLY_PER_HOUR: '100',
    NOTIFY_POLL_MS: '500',
  });
  if (!config.simulated) throw new Error('the e2e service must run simulated');
  const runtime = await createRuntime(config, { database, seedDemoBindings: true, logger: testLogger('info') });
  await runtime.app.listen({ port, host: '127.0.0.1' });
  return {
    runtime,
    base: `http://127.0.0.1:${port}`,
    async close() {
      await runtime.close();
      await drop();
      rmSync(files, { recursive: true, force: true });
    },
  };
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** How long a browser may take to close before its processes are killed. */
const CLOSE_GRACE_MS = 15_000;

/**
 * Debian's Chromium, headless, with a fresh profile, in Beijing time. Closing never hangs a
 * test's teardown: a browser that does not close within the grace period is killed by its
 * profile directory, which every one of its processes carries on its command line.
 */
export async function launchBrowser(
  options: Pick<BrowserContextOptions, 'viewport' | 'deviceScaleFactor' | 'isMobile' | 'hasTouch' | 'userAgent' | 'ignoreHTTPSErrors' | 'timezoneId'>,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'laifang-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...options,
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        context.close().then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS))),
      ]);
      clearTimeout(timer);
      if (!closed) {
        console.warn(`Chromium did not close within ${CLOSE_GRACE_MS} ms; killing the processes of ${profile}`);
        spawnSync('pkill', ['-KILL', '-f', `--user-data-dir=${profile}`]);
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A 375×667 phone inside WeChat (in Beijing time unless `timezoneId` says otherwise). */
export function launchPhone(timezoneId?: string): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  return launchBrowser({
    ...(timezoneId ? { timezoneId } : {}),
    viewport: { width: 375, height: 667 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50',
  });
}

/** Whether the browser tests can run here; in CI a missing Chromium is a failure, not a skip. */
export function chromiumState(): 'present' | 'missing-skip' | 'missing-fail' {
  if (existsSync(CHROMIUM)) return 'present';
  return process.env.CI ? 'missing-fail' : 'missing-skip';
}

/** The last verification code the SMS simulator received for a phone, from its request log. */
export async function smsCodeFrom(smsUrl: string, phone: string): Promise<string> {
  const log = (await (await fetch(`${smsUrl}/__sim/requests`)).json()) as Array<{ query?: Record<string, unknown>; body?: unknown }>;
  for (const req of [...log].reverse()) {
    const params = { ...(req.query ?? {}), ...Object.fromEntries(new URLSearchParams(typeof req.body === 'string' ? req.body : '')) } as Record<
      string,
      unknown
    >;
    if (params.PhoneNumbers !== phone || typeof params.TemplateParam !== 'string') continue;
    const code = (JSON.parse(params.TemplateParam) as { code?: string }).code;
    if (code) return code;
  }
  throw new Error(`no verification code was sent to ${phone}`);
}

/**
 * Waits until the page has no running CSS animation or transition (Vant's popups, toasts and
 * tab slides): an event to wait for, where a fixed pause would be too short on a busy machine
 * and too long on an idle one. For screenshots.
 */
export async function settled(page: Page): Promise<void> {
  // Endless ones (a loading spinner) never finish: they do not count.
  await page.waitForFunction(
    () => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity),
    undefined,
    { polling: 'raf' },
  );
}
