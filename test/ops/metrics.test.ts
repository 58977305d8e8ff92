import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aVisitor, anApplication } from '../helpers/factories.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { parseProm, valueOf, type Sample } from './prom-text.js';

// GET /metrics over real HTTP: every series the operations dashboard reads moves when the
// service does what it counts (on PGlite, and on PostgreSQL in the postgres project).
let h: Harness;
let base: string;

beforeAll(async () => {
  // Purposes are asked of Koala at every read (no cache), so a fault there is always met.
  h = await startHarness({ env: { KOALA_CACHE_SECONDS: '0' } });
  await h.runtime.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.runtime.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h?.close();
});

async function scrape(headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseProm(await res.text());
}

const REQUESTS = 'laifang_http_request_duration_seconds_count';

describe('GET /metrics', () => {
  it('counts requests by route pattern and status, never by raw URL, with latency buckets', async () => {
    const v = await aVisitor(h);
    const before = await scrape();
    await h.request('GET', '/v1/wechat/is_binding', { token: v.token });
    await fetch(`${base}/v1/auth/987654`, { method: 'PUT', headers: { authorization: `Bearer ${v.token}` } });
    await fetch(`${base}/no/such/path/123`);
    const after = await scrape();
    const moved = (labels: Record<string, string>) => valueOf(after, REQUESTS, labels) - valueOf(before, REQUESTS, labels);
    expect(moved({ method: 'GET', route: '/v1/wechat/is_binding', status: '200' })).toBe(1);
    expect(moved({ method: 'PUT', route: '/v1/auth/:id', status: '404' })).toBe(1);
    expect(moved({ route: 'unmatched', status: '404' })).toBe(1);
    expect(after.some((s) => s.labels.route?.includes('987654') || s.labels.route?.includes('/no/such'))).toBe(false);
    const buckets = after.filter((s) => s.name === 'laifang_http_request_duration_seconds_bucket' && s.labels.route === '/v1/wechat/is_binding');
    expect(buckets.find((b) => b.labels.le === '+Inf')!.value).toBe(valueOf(after, REQUESTS, { route: '/v1/wechat/is_binding', method: 'GET', status: '200' }));
  });

  it('outbox depth and oldest unsent age rise while SMS fails, sends count by provider and outcome, and both fall back', async () => {
    const v = await aVisitor(h);
    const before = await scrape();
    h.sims.sms.server.setFault({ status: 503 });
    try {
      await anApplication(h, { by: v });
      const stuck = await h.waitFor(
        async () => {
          const s = await scrape();
          const ready =
            valueOf(s, 'laifang_outbox_depth', { channel: 'sms' }) >= 2 &&
            valueOf(s, 'laifang_outbox_oldest_unsent_age_seconds', { channel: 'sms' }) > 0 &&
            valueOf(s, 'laifang_notification_sends_total', { provider: 'aliyun-sms', outcome: 'retry' }) >
              valueOf(before, 'laifang_notification_sends_total', { provider: 'aliyun-sms', outcome: 'retry' }) &&
            // The visitor's WeChat message is sent; the host's is skipped (张伟 has no WeChat bound here).
            valueOf(s, 'laifang_notification_sends_total', { provider: 'wechat-cloud', channel: 'wechat', outcome: 'sent' }) >
              valueOf(before, 'laifang_notification_sends_total', { provider: 'wechat-cloud', channel: 'wechat', outcome: 'sent' }) &&
            valueOf(s, 'laifang_notification_sends_total', { channel: 'wechat', outcome: 'skipped' }) >
              valueOf(before, 'laifang_notification_sends_total', { channel: 'wechat', outcome: 'skipped' });
          return ready ? s : null;
        },
        { what: 'the SMS rows pending, a retry counted, the WeChat rows sent' },
      );
      expect(valueOf(stuck, 'laifang_outbox_depth', { channel: 'wechat' })).toBe(0);
    } finally {
      h.sims.sms.server.setFault(null);
    }
    const drained = await h.waitFor(
      async () => {
        const s = await scrape();
        return valueOf(s, 'laifang_outbox_depth', { channel: 'sms' }) === 0 ? s : null;
      },
      { timeoutMs: 20_000, what: 'the SMS outbox empty again' },
    );
    expect(valueOf(drained, 'laifang_outbox_oldest_unsent_age_seconds', { channel: 'sms' })).toBe(0);
    const sent = (s: Sample[]) => valueOf(s, 'laifang_notification_sends_total', { provider: 'aliyun-sms', channel: 'sms', outcome: 'sent' });
    expect(sent(drained) - sent(before)).toBe(2);
  });

  it('times Koala and WeChat cloud calls and counts their failures by kind', async () => {
    const before = await scrape();
    const v = await aVisitor(h);
    expect((await h.request('GET', '/v1/wechat/is_binding', { token: v.token })).status).toBe(200); // asks the cloud
    h.sims.koala.server.setFault({ status: 500, path: '/subjects/purpose', times: 1 });
    expect((await h.request('GET', '/v1/subject/purpose', { token: v.token })).status).toBe(200); // the fixed list
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(moved('laifang_upstream_errors_total', { system: 'koala', kind: 'server_error' })).toBe(1);
    expect(moved('laifang_upstream_request_duration_seconds_count', { system: 'koala', outcome: 'server_error' })).toBe(1);
    expect(moved('laifang_upstream_request_duration_seconds_count', { system: 'wechat-cloud', outcome: 'ok' })).toBeGreaterThan(0);
    expect(moved('laifang_upstream_request_duration_seconds_count', { system: 'wechat-oauth', outcome: 'ok' })).toBeGreaterThan(0);

    h.sims.koala.server.setFault({ status: 0, path: '/subjects/purpose', times: 1 });
    await h.request('GET', '/v1/subject/purpose', { token: v.token });
    const cut = await scrape();
    expect(valueOf(cut, 'laifang_upstream_errors_total', { system: 'koala', kind: 'unreachable' })).toBe(
      valueOf(after, 'laifang_upstream_errors_total', { system: 'koala', kind: 'unreachable' }) + 1,
    );
  });

  it('shows a database connection in use while a transaction holds one, and none after', async () => {
    const inUse = (s: Sample[]) => valueOf(s, 'laifang_db_pool_connections', { state: 'in_use' });
    const idle = await h.waitFor(async () => {
      const s = await scrape();
      return inUse(s) === 0 ? s : null;
    });
    expect(valueOf(idle, 'laifang_db_pool_connections', { state: 'max' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(idle, 'laifang_ready')).toBe(1);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let began!: () => void;
    const begun = new Promise<void>((r) => (began = r));
    const tx = h.database.db.transaction(async (t) => {
      await t.execute(sql`select 1`);
      began();
      await held;
    });
    await begun;
    // PGlite is one connection: the scrape's outbox query waits for the transaction, so it is let go
    // once the scrape has read the pool (its query then counts as waiting).
    const during = scrape();
    if (h.database.kind === 'pglite') await h.waitFor(() => h.database.connections().waiting >= 1, { what: 'the scrape waiting' });
    else await during;
    release();
    await tx;
    expect(inUse(await during)).toBeGreaterThanOrEqual(1);
    await h.waitFor(async () => inUse(await scrape()) === 0, { what: 'the connection back' });
  });

  it('reports event-loop delay and the default process metrics, which move', async () => {
    const before = await scrape();
    // Each try holds the event loop for 120 ms, as a slow synchronous handler would. The delay is
    // recorded when the sampler's timer fires after a hold, and each scrape starts a new
    // histogram, so a scrape may come before the record: hold and scrape until it shows.
    const after = await h.waitFor(
      async () => {
        const until = performance.now() + 120;
        while (performance.now() < until);
        await new Promise((resolve) => setImmediate(resolve));
        const samples = await scrape();
        return valueOf(samples, 'nodejs_eventloop_lag_max_seconds') >= 0.1 ? samples : null;
      },
      { what: 'a held event loop in nodejs_eventloop_lag_max_seconds' },
    );
    expect(valueOf(after, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.1);
    expect(valueOf(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(valueOf(before, 'process_cpu_user_seconds_total'));
    expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(after, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });
});

describe('GET /metrics with a token, and off', () => {
  it('answers only a scrape with the bearer token; METRICS=off answers 404', async () => {
    const token = 'metrics-token-0123456789abcdef0123456789';
    const guarded = await startHarness({ env: { METRICS_TOKEN: token } });
    const off = await startHarness({ env: { METRICS: 'off' } });
    try {
      const none = await guarded.request('GET', '/metrics');
      expect(none.status).toBe(401);
      expect(none.body).toMatchObject({ code: 401, error: 'UNAUTHENTICATED' });
      expect(none.headers['www-authenticate']).toBe('Bearer');
      expect((await guarded.request('GET', '/metrics', { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
      expect((await guarded.request('GET', '/metrics', { headers: { authorization: token } })).status).toBe(401);
      const ok = await guarded.request('GET', '/metrics', { token });
      expect(ok.status).toBe(200);
      expect(String(ok.body)).toContain('laifang_outbox_depth');
      expect((await off.request('GET', '/metrics')).status).toBe(404);
    } finally {
      await guarded.close();
      await off.close();
    }
  });
});
