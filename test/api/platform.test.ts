import { sql } from 'drizzle-orm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createRuntime } from '../../src/runtime.js';
import { futureWindow, openTestDatabase, STAFF, startHarness, testDbKind, type Harness } from '../helpers/harness.js';

const logLines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    cb();
  },
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ logger: createLogger('debug', sink) });
});
afterAll(async () => {
  await h?.close();
});

describe('health, readiness and docs', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await h.request('GET', '/healthz')).status).toBe(200);
    const ready = await h.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ code: 0 });
  });

  it('serves OpenAPI with every route of the contract', async () => {
    const doc = await h.request('GET', '/docs/json');
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.body.paths);
    for (const p of [
      '/v1/session',
      '/v1/sms/code',
      '/v1/subject/binding',
      '/v1/visitor/binding',
      '/v1/subject/binding/{weixinUserId}',
      '/v1/wechat/is_binding',
      '/v1/subject',
      '/v1/subject/purpose',
      '/v1/visit/records',
      '/v1/auth/records',
      '/v1/auth/{id}',
    ]) {
      expect(paths).toContain(p);
    }
    expect(paths).not.toContain('/v1/session/dev');
    const ui = await h.request('GET', '/docs/');
    expect(ui.status).toBe(200);
    expect(String(ui.headers['content-type'])).toMatch(/text\/html/);
  });

  it('sends security headers and a request id', async () => {
    const res = await h.request('GET', '/healthz', { headers: { 'x-request-id': 'trace-me-1' } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toBe('trace-me-1');
  });
});

describe('logs', () => {
  it('never contain a full phone number or a session token', async () => {
    const token = await h.bound('wx-log-staff', STAFF.zhangwei.phone);
    await h.request('GET', `/v1/visit/records?phone=${STAFF.zhangwei.phone}`, { token });
    await h.request('POST', '/v1/subject', {
      token,
      body: { name: '王五', phone: '13912345678', interviewee: '张伟', interviewee_phone: STAFF.zhangwei.phone, ...futureWindow() },
    });
    await h.request('POST', '/v1/sms/code', { token, body: { phone: '13912345679' } });
    await h.waitFor(() => h.sims.sms.messages().length >= 2, { what: 'SMS' });
    const all = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(5);
    const leaks = logLines.filter((l) => /(?<!\d)1[3-9]\d{9}(?!\d)/.test(l));
    expect(leaks).toEqual([]);
    expect(all).toMatch(/138\*\*\*\*0001/);
    expect(all).not.toContain(token);
  });
});

describe('per-address rate limit', () => {
  it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_MINUTE, counted in the database', async () => {
    const limited = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      for (let i = 0; i < 3; i++) expect((await limited.request('GET', '/v1/subject/purpose')).status).toBe(401);
      const res = await limited.request('GET', '/v1/subject/purpose');
      expect(res.status).toBe(429);
      expect(res.body).toMatchObject({ code: 429, error: 'RATE_LIMITED' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // Health checks are never limited.
      expect((await limited.request('GET', '/healthz')).status).toBe(200);
      if (testDbKind() === 'pg') {
        // A second replica on the same database sees the same counter: this one adds its hits
        // to it every 250 ms (src/http/rate-limit-store.ts).
        await new Promise((r) => setTimeout(r, 600));
        const replica = await createRuntime(limited.runtime.config, { database: await reopen(limited) });
        try {
          expect((await replica.app.inject({ method: 'GET', url: '/v1/subject/purpose' })).statusCode).toBe(429);
        } finally {
          await replica.close();
        }
      }
    } finally {
      await limited.close();
    }
  });
});

describe('per-address rate limit: counting', () => {
  it('every hit reaches the shared counter (the first at once, the rest within a quarter second), and a burst is still cut at the limit', async () => {
    const limited = await startHarness({ env: { RATE_LIMIT_PER_MINUTE: '4' } });
    try {
      const statuses = await Promise.all(Array.from({ length: 12 }, () => limited.request('GET', '/v1/subject/purpose').then((r) => r.status)));
      expect(statuses.filter((s) => s === 401)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(8);
      await limited.waitFor(
        async () => {
          const r = (await limited.database.db.execute(
            sql`select coalesce(sum(hits), 0)::int as n from rate_counters where bucket not like 'sms:%'`,
          )) as unknown as { rows: Array<{ n: number }> };
          return r.rows[0]!.n === 12;
        },
        { what: 'all 12 hits in the database', timeoutMs: 5000 },
      );
    } finally {
      await limited.close();
    }
  });
});

async function reopen(harness: Harness) {
  const { openDatabase } = await import('../../src/db/client.js');
  return openDatabase(harness.runtime.config.databaseUrl);
}

describe('simulated mode (npm start)', () => {
  it('starts its own simulators with demo users and serves POST /v1/session/dev', async () => {
    const db = await openTestDatabase();
    const files = mkdtempSync(join(tmpdir(), 'laifang-sim-files-'));
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: db.url, STORAGE_LOCAL_DIR: files, RATE_LIMIT_PER_MINUTE: '0' });
    expect(config.simulated).toBe(true);
    const runtime = await createRuntime(config, { database: db.database, seedDemoBindings: true });
    try {
      const s = await runtime.app.inject({ method: 'POST', url: '/v1/session/dev', payload: { weixinUserId: 'demo-staff-zhangwei' } });
      expect(s.statusCode).toBe(200);
      const token = s.json().data.token as string;
      const me = await runtime.app.inject({ method: 'GET', url: '/v1/wechat/is_binding', headers: { authorization: `Bearer ${token}` } });
      expect(me.json().data).toMatchObject({ type: 'employee', name: '张伟', phone: '13800000001' });
      expect(runtime.simulators).not.toBeNull();
    } finally {
      await runtime.close();
      await db.drop();
      rmSync(files, { recursive: true, force: true });
    }
  });
});
