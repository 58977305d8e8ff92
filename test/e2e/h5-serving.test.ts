import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H5_DIST_DIR, registerH5Pages } from '../../src/http/h5-pages.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** How the service serves the H5 pages and the public routes they start from (no browser). */

let h: Harness;
beforeAll(async () => {
  // The build is a no-op when web/dist is newer than web/ (scripts/build-web.mjs).
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
  h = await startHarness();
}, 120_000);
afterAll(async () => {
  await h?.close();
});

describe('GET /v1/h5/config', () => {
  it('tells the pages, without a session, how to sign in: WeChat OAuth with the configured appid', async () => {
    const res = await h.request('GET', '/v1/h5/config');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      code: 0,
      err_msg: '',
      data: {
        simulated: false,
        wechat_app_id: h.runtime.config.wechatOAuth?.appId,
        sms_required: true,
        work_hours: { start: 9, end: 18 },
        max_days_ahead: 90,
      },
    });
    expect(res.body.data.wechat_app_id).toMatch(/^\S+$/);
    expect(JSON.stringify(res.body)).not.toContain(h.runtime.config.wechatOAuth?.appSecret ?? 'no secret configured');
  });

  it('has no demo-user listing outside simulated mode (404 before authentication, like /v1/session/dev)', async () => {
    const res = await h.request('GET', '/v1/session/dev/users');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 404, error: 'NOT_FOUND' });
  });
});

describe('/h5/', () => {
  it('redirects /h5 to /h5/ and serves index.html, re-validated on every load', async () => {
    const redirect = await h.request('GET', '/h5');
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('/h5/');
    const res = await h.request('GET', '/h5/');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('<div id="app"></div>');
    expect(res.body).toMatch(/<script type="module" crossorigin src="\/h5\/assets\/index-[\w-]+\.js"><\/script>/);
  });

  it('serves the hashed assets as immutable', async () => {
    const js = readdirSync(join(H5_DIST_DIR, 'assets')).find((f) => f.startsWith('index-') && f.endsWith('.js'));
    const res = await h.request('GET', `/h5/assets/${js}`);
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await h.request('GET', '/h5/assets/nope-123.js')).status).toBe(404);
  });

  it('loads nothing from outside hosts (intranets; the icon font is inlined, its CDN fallback dropped)', () => {
    const css = readdirSync(join(H5_DIST_DIR, 'assets')).filter((f) => f.endsWith('.css'));
    expect(css.length).toBeGreaterThan(0);
    for (const f of css) expect(readFileSync(join(H5_DIST_DIR, 'assets', f), 'utf8'), f).not.toMatch(/url\(\s*["']?(https?:)?\/\//);
  });

  it('keeps a strict Content-Security-Policy: own scripts only, no eval, no inline script', async () => {
    const csp = String((await h.request('GET', '/h5/')).headers['content-security-policy']);
    const directive = (name: string) =>
      csp
        .split(';')
        .map((d) => d.trim())
        .find((d) => d.startsWith(`${name} `)) ?? '';
    expect(directive('script-src')).toBe("script-src 'self'");
    expect(directive('default-src')).toBe("default-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    expect(directive('object-src')).toBe("object-src 'none'");
    expect(directive('frame-ancestors')).toBe("frame-ancestors 'self'");
    // Served over plain HTTP on a LAN address, this directive would send the pages' own scripts to HTTPS.
    expect(csp).not.toContain('upgrade-insecure-requests');
  });

  it('answers 503 with how to build when the pages were not built (the API keeps running)', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'laifang-no-h5-'));
    const app = Fastify();
    await registerH5Pages(app, empty);
    try {
      for (const url of ['/h5/', '/h5/assets/index.js']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode).toBe(503);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(res.body).toContain('npm run build:web');
      }
      expect((await app.inject({ method: 'GET', url: '/h5' })).headers.location).toBe('/h5/');
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
