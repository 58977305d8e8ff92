import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { WechatOAuthPort } from './adapters/wechat-oauth/port.js';
import type { StoragePort } from './adapters/storage/port.js';
import type { Config } from './config.js';
import type { Database } from './db/client.js';
import { installAuth } from './http/auth.js';
import { registerH5Pages } from './http/h5-pages.js';
import { frameworkErrors, installErrorHandler } from './http/error-handler.js';
import type { WebLoad } from './http/load.js';
import type { Metrics } from './http/metrics.js';
import { isReady, registerHealth } from './http/health.js';
import { securityHeaders } from './http/security-headers.js';
import { validatorCompiler } from './http/validation.js';
import { databaseRateLimitStore } from './http/rate-limit-store.js';
import type { Logger } from './log.js';
import { ADMIN_TOKEN_PREFIX } from './modules/admin/tokens.js';
import { registerAdminApi, type AdminApi } from './modules/admin/register.js';
import { applicationRoutes } from './modules/applications/routes.js';
import type { Applications } from './modules/applications/service.js';
import { bindingRoutes } from './modules/binding/routes.js';
import type { Bindings } from './modules/binding/service.js';
import type { Identity } from './modules/identity/service.js';
import { privacyRoutes } from './modules/privacy/routes.js';
import { createPrivacy } from './modules/privacy/service.js';
import { pendingByChannel } from './modules/notifications/outbox-repo.js';
import { DEMO_WECHAT_USERS } from './simulators.js';
import { adminSessionEndRoutes, sessionRoutes } from './modules/session/routes.js';
import type { RedeemedCodes } from './modules/session/redeemed-codes.js';
import type { SessionRevocations } from './modules/session/revocations.js';
import type { SessionEnder } from './modules/session/service.js';
import type { SessionTokens } from './modules/session/tokens.js';
import { smsCodeRoutes } from './modules/sms-codes/routes.js';
import type { SmsCodes } from './modules/sms-codes/service.js';
import type { Purposes } from './modules/staff/purposes.js';
import { ledgerRoutes } from './modules/ledger/routes.js';
import { statsRoutes } from './modules/stats/routes.js';
import type { Ledger } from './runtime/ledger.js';
import { visitRoutes } from './modules/visits/routes.js';
import { visitLifeRoutes } from './modules/visit-life/routes.js';
import type { VisitLife } from './modules/visit-life/service.js';
import type { Visits } from './modules/visits/service.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: Database;
  tokens: SessionTokens;
  oauth: WechatOAuthPort;
  redeemedCodes: RedeemedCodes;
  revocations: SessionRevocations;
  sessionEnder: SessionEnder;
  identity: Identity;
  bindings: Bindings;
  smsCodes: SmsCodes;
  applications: Applications;
  purposes: Purposes;
  /** Front desk: kiosk sign-in, turnstile, check-out, pass pictures. */
  visits?: Visits;
  /** A visit's life on the phone: one record, reject, cancel, move. */
  life?: VisitLife;
  now: () => number;
  /** True once migrations are applied (GET /readyz). */
  isReady: () => boolean;
  /** Requests a second, for the notification worker (it gives way while there are many). */
  load?: WebLoad;
  /** An HTTP server that is already listening (main.ts answers /healthz on it while starting). */
  serverFactory?: FastifyServerOptions['serverFactory'];
  /** Landed files (avatars): the PIPL erasure deletes a person's. */
  storage: StoragePort;
  /** Admin API, devices and audit; absent: admin and device routes answer 401. */
  adminApi?: AdminApi;
  /** GET /metrics and the request timings; absent (METRICS off): 404. */
  metrics?: Metrics | null;
  /** Visit-ledger exports and statistics (admin routes). */
  ledger?: Ledger;
}

/** The Fastify app: transport (ids, parsing, headers, errors), limits, docs, files, health, the features. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createFastify(deps);
  installTransport(app, deps);
  installMetrics(app, deps);
  await registerCors(app, deps.config);
  await registerRateLimit(app, deps);
  await registerDocs(app, deps.config.apiDocs);
  await registerFiles(app, deps.config);
  await registerH5Pages(app);
  registerHealth(app, { isReady: deps.isReady, ping: () => deps.database.ping() });
  registerFeatures(app, deps);
  return app;
}

function createFastify(deps: AppDeps): FastifyInstance {
  return Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    // Fastify's 10 s per plugin is too short on a small, busy box (swagger-ui can time out while
    // restarting under load, test/faults/sigkill-load): a slow start beats a failed one.
    pluginTimeout: 60_000,
    bodyLimit: 64 * 1024,
    // Only the named proxies: the client is the right-most X-Forwarded-For address not one of them.
    trustProxy: deps.config.trustProxy.length > 0 ? deps.config.trustProxy : false,
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
    // A 128-character weixinUserId in a path must reach the route's schema (default limit: 100).
    routerOptions: { maxParamLength: 256 },
    frameworkErrors,
  });
}

/** Request ids, validation, the error envelope, JSON bodies, security headers, the load count. */
function installTransport(app: FastifyInstance, deps: AppDeps): void {
  app.setValidatorCompiler(validatorCompiler);
  // Callback hooks, not async ones: they run on every answer, and a promise each is measurable.
  app.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', req.id);
    done(null, payload);
  });

  installErrorHandler(app);
  // Pages often send `Content-Type: application/json` with no body on PUT/DELETE: that is "no
  // body", not malformed JSON. Anything else goes through Fastify's poisoning-safe parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    parseJson(req, body as string, done);
  });
  // No `upgrade-insecure-requests`: served over plain HTTP on a LAN address (a small box beside
  // Koala), it makes the browser fetch the H5 pages' own scripts over HTTPS, and they never load.
  const security = securityHeaders({
    contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:', 'https:', 'http:'], 'upgrade-insecure-requests': null } },
  });
  app.addHook('onRequest', (_req, reply, done) => {
    deps.load?.arrived();
    void reply.headers(security);
    done();
  });
}

/** Request timings and GET /metrics (METRICS): the outbox is read by the scrape, never by a request. */
function installMetrics(app: FastifyInstance, deps: AppDeps): void {
  const { metrics, database } = deps;
  if (!metrics) return;
  metrics.install(app, {
    token: deps.config.metrics.token,
    sources: {
      outbox: () => pendingByChannel(database, deps.now()),
      pool: () => database.connections(),
      ready: () => isReady({ isReady: deps.isReady, ping: () => database.ping() }),
    },
  });
}

/** CORS only for the configured origins (CORS_ORIGINS); none configured: no CORS headers at all. */
async function registerCors(app: FastifyInstance, config: Config): Promise<void> {
  if (config.corsOrigins.length === 0) return;
  await app.register(cors, {
    origin: config.corsOrigins,
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
    exposedHeaders: ['Retry-After', 'X-Request-Id'],
    maxAge: 600,
  });
}

/** RATE_LIMIT_PER_MINUTE per client address, counted in the database (every replica); 0 = off. */
async function registerRateLimit(app: FastifyInstance, deps: AppDeps): Promise<void> {
  if (deps.config.rateLimitPerMinute <= 0) return;
  await app.register(rateLimit, {
    global: false,
    max: deps.config.rateLimitPerMinute,
    timeWindow: 60_000,
    store: databaseRateLimitStore({ database: deps.database, logger: deps.logger, now: deps.now, onClose: (hook) => app.addHook('onClose', hook) }),
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, code: 'RATE_LIMITED', message: `rate limited; retry in ${Math.ceil(ctx.ttl / 1000)} s` }),
  });
  // An app-level hook registered before authentication: unauthenticated floods count too.
  const limit = app.rateLimit();
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz' || req.url === '/readyz') return;
    await limit.call(app, req, reply);
  });
}

/**
 * The policy of /docs alone: Swagger UI (React) sets inline styles, which its own static policy
 * refuses (a CSP error in the console); scripts stay 'self' only, as everywhere. No
 * `upgrade-insecure-requests` (plain HTTP on a LAN address, see installTransport), and no
 * outside validator image.
 */
const DOCS_CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
};

/**
 * OpenAPI from the routes' schemas (app.swagger(), which `npm run gen:api` and the tests read),
 * served with Swagger UI at /docs only when API_DOCS is on (off by default in production).
 */
async function registerDocs(app: FastifyInstance, served: boolean): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Laifang (来访) API', version: '1.0.0', description: 'WeChat H5 visitor appointments. Contract: shared/spec/api-contract.md' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'token from POST /v1/session' },
          // Named by the kiosk / turnstile routes; without it app.swagger() (and /docs/json) throws.
          device: { type: 'apiKey', in: 'header', name: 'authorization', description: 'Authorization: Device <device token>' },
        },
      },
    },
  });
  if (served) await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP });
}

/** Landed files under /files/ when they are stored locally. */
async function registerFiles(app: FastifyInstance, config: Config): Promise<void> {
  if (config.storage.driver !== 'local') return;
  mkdirSync(config.storage.dir, { recursive: true });
  await app.register(fastifyStatic, {
    root: resolve(config.storage.dir),
    prefix: '/files/',
    decorateReply: false,
    index: false,
    immutable: true,
    maxAge: '365d',
  });
}

/** Authentication hooks and every feature's routes. */
function registerFeatures(app: FastifyInstance, deps: AppDeps): void {
  const { config } = deps;
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  const accounts = deps.adminApi?.accounts;
  installAuth(app, {
    tokens: deps.tokens,
    revocations: deps.revocations,
    identity: deps.identity,
    nowSeconds,
    devices: deps.adminApi?.devices,
    admins: accounts ? { tokenPrefix: ADMIN_TOKEN_PREFIX, authenticate: (token) => accounts.authenticate(token) } : undefined,
  });
  sessionRoutes(app, {
    oauth: deps.oauth,
    redeemed: deps.redeemedCodes,
    tokens: deps.tokens,
    revocations: deps.revocations,
    ender: deps.sessionEnder,
    nowSeconds,
    devLogin: config.simulated,
    demoUsers: DEMO_WECHAT_USERS,
    wechatAppId: config.wechatOAuth?.appId ?? '',
    smsRequired: config.bindVerifyPhone,
    workHours: config.workHours,
    maxDaysAhead: config.visitWindow.maxDaysAhead,
  });
  smsCodeRoutes(app, { smsCodes: deps.smsCodes });
  bindingRoutes(app, { bindings: deps.bindings });
  applicationRoutes(app, { applications: deps.applications, identity: deps.identity, purposes: deps.purposes });
  if (deps.visits) visitRoutes(app, { visits: deps.visits, identity: deps.identity });
  if (deps.life) visitLifeRoutes(app, { life: deps.life, identity: deps.identity });
  if (deps.adminApi) registerAdminApi(app, { db: deps.database.db, api: deps.adminApi });
  if (deps.adminApi) adminSessionEndRoutes(app, { ender: deps.sessionEnder });
  // PIPL export / erasure of one phone number: admin only.
  if (deps.ledger) ledgerRoutes(app, { exports: deps.ledger.exports });
  if (deps.ledger) statsRoutes(app, { stats: deps.ledger.stats });
  if (deps.adminApi) privacyRoutes(app, { privacy: createPrivacy({ db: deps.database.db, audit: deps.adminApi.audit, storage: deps.storage }) });
}
