import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumState, launchBrowser, startSimulatedService } from './service.js';

/**
 * Swagger UI at /docs in Chromium: it renders the API with no CSP refusal and no page error,
 * while every other answer keeps the strict policy (no inline script anywhere).
 */
describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg' && chromiumState() === 'present')('/docs (browser)', { timeout: 60_000 }, () => {
  let service: Awaited<ReturnType<typeof startSimulatedService>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  beforeAll(async () => {
    [service, browser] = await Promise.all([startSimulatedService(), launchBrowser({ viewport: { width: 1280, height: 800 } })]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('renders Swagger UI without a CSP refusal; the policy there allows no inline script', async () => {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || /Content.Security.Policy|Refused to/i.test(msg.text())) problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    const answer = await page.goto(`${service.base}/docs/static/index.html`);
    expect(answer?.status()).toBe(200);
    await page.getByText('Laifang (来访) API').first().waitFor();
    await page.locator('.opblock').first().waitFor();
    expect(problems).toEqual([]);
    const csp = (await answer?.allHeaders())?.['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'self'[^;]*;/);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    expect(csp).not.toContain('upgrade-insecure-requests');
    // Elsewhere the policy is helmet's, unchanged.
    const h5 = await fetch(`${service.base}/h5/`);
    expect(h5.headers.get('content-security-policy')).not.toContain('sha256-');
  });
});
