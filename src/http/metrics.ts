import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HttpObserver } from '../adapters/http.js';
import { AppError } from '../errors.js';

/** Unsent outbox rows of one channel, as one bounded query at scrape time sees them. */
export interface OutboxStat {
  channel: string;
  /** Pending rows (at most the query's bound). */
  depth: number;
  /** Seconds since the oldest pending row was written; 0 when there is none. */
  oldestAgeSeconds: number;
}

/** The database's connections: PostgreSQL's pool, or PGlite's one embedded connection. */
export interface PoolUse {
  max: number;
  /** Connections open now (idle ones included). */
  open: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
}

/** What a scrape reads from the rest of the service (src/app.ts passes the real ones in). */
export interface MetricsSources {
  outbox(): Promise<OutboxStat[]>;
  pool(): PoolUse;
  /** What GET /readyz says: started, and the database answers. */
  ready(): Promise<boolean>;
}

/** How a notification attempt ended, as the worker counts it (a retry is scheduled, not final). */
export type SendOutcome = 'sent' | 'skipped' | 'failed' | 'retry';

export interface Metrics {
  /** Given to the outside systems' clients: every outbound HTTP call's time and outcome. */
  upstream: HttpObserver;
  /** Given to the notification worker: every attempt's outcome. */
  sent(channel: string, outcome: SendOutcome): void;
  /** The request timing hooks (before any route) and GET /metrics. */
  install(app: FastifyInstance, opts: { token: string | null; sources: MetricsSources }): void;
  /** The text a scrape answers (tests read it directly too). */
  text(): Promise<string>;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const UPSTREAM_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PROVIDER_OF: Record<string, string> = { sms: 'aliyun-sms', wechat: 'wechat-cloud' };

/**
 * The service's Prometheus metrics, on a registry of its own (several runtimes in one process
 * each have theirs). On the hot path a request costs one histogram observation; what needs the
 * database (the outbox) is read only when a scrape asks, by one bounded query.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const requests = new Histogram({
    name: 'laifang_http_request_duration_seconds',
    help: 'Requests answered, by method, route pattern and status, with their duration',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const upstreamCalls = new Histogram({
    name: 'laifang_upstream_request_duration_seconds',
    help: 'Outbound HTTP calls to the outside systems (koala, wechat-cloud, wechat-oauth), by outcome',
    labelNames: ['system', 'outcome'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'laifang_upstream_errors_total',
    help: 'Outbound calls that failed: timeout, unreachable (refused, reset, DNS) or a 5xx answer',
    labelNames: ['system', 'kind'] as const,
    registers: [registry],
  });
  const sends = new Counter({
    name: 'laifang_notification_sends_total',
    help: 'Notification attempts, by provider, channel and outcome (sent, skipped, failed, retry)',
    labelNames: ['provider', 'channel', 'outcome'] as const,
    registers: [registry],
  });
  const upstream: HttpObserver = {
    observe: ({ system, outcome, seconds }) => {
      upstreamCalls.observe({ system, outcome }, seconds);
      if (outcome !== 'ok' && outcome !== 'client_error') upstreamErrors.inc({ system, kind: outcome });
    },
  };
  return {
    upstream,
    sent: (channel, outcome) => sends.inc({ provider: PROVIDER_OF[channel] ?? channel, channel, outcome }),
    install: (app, opts) => {
      sourceGauges(registry, opts.sources);
      timeRequests(app, requests);
      serveMetrics(app, registry, opts.token);
    },
    text: () => registry.metrics(),
  };
}

/** Gauges read at scrape time: the outbox (one query, shared by scrapes that overlap) and the pool. */
function sourceGauges(registry: Registry, sources: MetricsSources): void {
  // First: read before the outbox query below takes a connection of its own.
  new Gauge({
    name: 'laifang_db_pool_connections',
    help: 'Database connections by state (open, idle, max) and queries waiting for one (waiting)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const p = sources.pool();
      this.set({ state: 'max' }, p.max);
      this.set({ state: 'open' }, p.open);
      this.set({ state: 'idle' }, p.idle);
      this.set({ state: 'in_use' }, p.open - p.idle);
      this.set({ state: 'waiting' }, p.waiting);
    },
  });
  new Gauge({
    name: 'laifang_ready',
    help: '1 when the service is started and its database answers (as GET /readyz), else 0',
    registers: [registry],
    async collect() {
      this.set((await sources.ready()) ? 1 : 0);
    },
  });
  let inFlight: Promise<OutboxStat[]> | null = null;
  const outbox = (): Promise<OutboxStat[]> =>
    (inFlight ??= sources.outbox().finally(() => {
      inFlight = null;
    }));
  // Both channels always have a value: an empty outbox is 0, not an absent series.
  const byChannel = async (pick: (s: OutboxStat) => number): Promise<Array<[string, number]>> => {
    const stats = await outbox();
    return ['sms', 'wechat'].map((channel) => {
      const s = stats.find((x) => x.channel === channel);
      return [channel, s ? pick(s) : 0];
    });
  };
  new Gauge({
    name: 'laifang_outbox_depth',
    help: 'Notifications not yet sent (pending), by channel; counted up to a bound',
    labelNames: ['channel'] as const,
    registers: [registry],
    async collect() {
      for (const [channel, v] of await byChannel((s) => s.depth)) this.set({ channel }, v);
    },
  });
  new Gauge({
    name: 'laifang_outbox_oldest_unsent_age_seconds',
    help: 'Age of the oldest notification not yet sent, by channel (0: none pending)',
    labelNames: ['channel'] as const,
    registers: [registry],
    async collect() {
      for (const [channel, v] of await byChannel((s) => s.oldestAgeSeconds)) this.set({ channel }, v);
    },
  });
}

/**
 * Every answer's duration under its route pattern (`/v1/auth/{id}` as Fastify names it, never
 * the raw URL: one series per route, whatever the ids), or `unmatched` for a 404 of no route.
 */
function timeRequests(app: FastifyInstance, requests: Histogram<'method' | 'route' | 'status'>): void {
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
}

/** GET /metrics; with a token, only for `Authorization: Bearer <token>` (compared in constant time). */
function serveMetrics(app: FastifyInstance, registry: Registry, token: string | null): void {
  const expected = token === null ? null : digest(token);
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (expected !== null) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!timingSafeEqual(digest(given), expected)) {
        void reply.header('www-authenticate', 'Bearer');
        throw new AppError('UNAUTHENTICATED', '监控令牌无效');
      }
    }
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(body);
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
