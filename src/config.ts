import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * The whole configuration, parsed once from the environment (api-contract.md §7). Nothing else
 * reads process.env. A bad value stops the start with a message that says how to fix it.
 */
export interface Config {
  env: 'production' | 'development' | 'test';
  port: number;
  host: string;
  /** Trust X-Forwarded-For from a reverse proxy (the per-address rate limit then sees the client). */
  trustProxy: boolean;
  publicUrl: string;
  databaseUrl: string;
  /** null outside production until the database provides one (stored per data directory). */
  sessionSecret: string | null;
  sessionTtlSeconds: number;
  applyPerHour: number;
  rateLimitPerMinute: number;
  bindVerifyPhone: boolean;
  logLevel: string;
  /** True when no integration URL is set: in-process simulators and POST /v1/session/dev. */
  simulated: boolean;
  koala: { url: string; username: string; password: string; timeoutMs: number } | null;
  wechatCloud: { url: string; timeoutMs: number } | null;
  wechatOAuth: { apiUrl: string; appId: string; appSecret: string; timeoutMs: number } | null;
  sms: { endpoint: string; accessKeyId: string; accessKeySecret: string; signName: string; timeoutMs: number } | null;
  templates: { sms: Record<TemplateName, string>; wechat: Record<TemplateName, string> };
  /** The first admin, created at start-up when there is no admin yet (ADMIN_USERNAME / ADMIN_PASSWORD). */
  firstAdmin: { username: string; password: string } | null;
  storage:
    | { driver: 'local'; dir: string }
    | {
        driver: 's3';
        endpoint?: string;
        region: string;
        bucket: string;
        accessKeyId: string;
        secretAccessKey: string;
        publicUrl?: string;
        forcePathStyle: boolean;
        private: boolean;
        signedUrlTtlSeconds: number;
      };
  notify: {
    send: boolean;
    yieldAt: number;
    yieldRate: number;
    pollingIntervalSeconds: number;
    retryLimit: number;
    retryDelaySeconds: number;
    maxRetryDelaySeconds: number;
    batchSize: number;
    expireInSeconds: number;
    maintenanceIntervalSeconds: number;
  };
  /** How long purposes and a full pass through Koala's employees are trusted before asking again. */
  koalaCacheSeconds: number;
  /** How long a remembered employee is used without re-reading it from Koala (0 = every time). */
  koalaStaffRefreshSeconds: number;
  /** Front desk (issue 3): how early before its window a visitor may sign in; how often ended visits are checked out. */
  visits: { signinLeadMinutes: number; sweepSeconds: number };
  /** Origins allowed to call the API from a browser (CORS_ORIGINS); empty = no CORS headers at all. */
  corsOrigins: string[];
  /**
   * Caps on SMS actually sent, counted in the database (all replicas): per target phone (an
   * hour, a day) and for the whole service (an hour), whatever route caused them (issue 6).
   */
  smsCaps: { perPhonePerHour: number; perPhonePerDay: number; globalPerHour: number };
  /** Visit records, companions and notifications are deleted this many days after the visit window ends. */
  retention: { days: number; sweepIntervalSeconds: number; batchSize: number };
  /**
   * Server processes on this machine (WEB_CONCURRENCY; `auto` = one per core). Above 1: a
   * primary process forks that many workers sharing the port, each a replica (issue 5). Needs
   * PostgreSQL and real integrations: the embedded database and the simulators live in one process.
   */
  webConcurrency: number;
  /** How often the outbox, queue, counter and application tables are vacuumed (src/jobs/upkeep.ts). */
  upkeepSeconds: number;
  /** Record-list pages kept per phone in each replica, invalidated by the database (issue 5); 0 MB = off. */
  recordsCache: { maxBytes: number; ttlSeconds: number };
}

export const TEMPLATE_NAMES = [
  'verification_code',
  'approval_pass_to_visitor',
  'approval_reminder_to_employee',
  'application_submitted_to_visitor',
  // Front desk (issue 3): the pass sent at kiosk sign-in, and the host told of the arrival.
  'signin_to_visitor',
  'visitor_signin_to_employee',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(
      `Laifang cannot start: the configuration is not valid.\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee README.md "Configuration" (or api-contract.md §7).`,
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}.`);
      return def;
    }
    return Number(raw);
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return def;
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    problems.push(`${name}=${JSON.stringify(raw)} must be true or false.`);
    return def;
  };
  const url = (name: string): string | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name}=${JSON.stringify(raw)} must be an http:// or https:// URL.`);
      return undefined;
    }
  };
  const required = (group: string, names: string[]): void => {
    for (const n of names) if (get(n) === undefined) problems.push(`${n} is required when ${group} is configured.`);
  };

  const nodeEnv = get('NODE_ENV');
  const envName: Config['env'] = nodeEnv === 'production' ? 'production' : nodeEnv === 'test' ? 'test' : 'development';
  const port = int('PORT', 3000, 0, 65535);
  const host = get('HOST') ?? '127.0.0.1';
  const publicUrl = url('PUBLIC_URL') ?? `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  const databaseUrl = get('DATABASE_URL') ?? 'pglite://./data/db';
  if (!/^(postgres|postgresql|pglite):\/\//.test(databaseUrl)) {
    problems.push(`DATABASE_URL must start with postgres:// or pglite:// (for example pglite://./data/db or pglite://memory).`);
  }

  const koalaUrl = url('KOALA_URL');
  const cloudUrl = url('WECHAT_CLOUD_URL');
  const smsEndpoint = url('ALIYUN_SMS_ENDPOINT');
  const appId = get('WECHAT_APP_ID');
  const simulated = !koalaUrl && !cloudUrl && !smsEndpoint && !appId;

  const timeoutMs = int('UPSTREAM_TIMEOUT_MS', 5000, 100, 120_000);
  let koala: Config['koala'] = null;
  let wechatCloud: Config['wechatCloud'] = null;
  let wechatOAuth: Config['wechatOAuth'] = null;
  let sms: Config['sms'] = null;
  if (!simulated) {
    if (!koalaUrl) problems.push('KOALA_URL is required once any integration is configured (or set none of them to run simulated).');
    else {
      required('KOALA_URL', ['KOALA_USERNAME', 'KOALA_PASSWORD']);
      koala = {
        url: koalaUrl,
        username: get('KOALA_USERNAME') ?? '',
        password: get('KOALA_PASSWORD') ?? '',
        timeoutMs: int('KOALA_TIMEOUT_MS', timeoutMs, 100, 120_000),
      };
    }
    if (!cloudUrl) problems.push('WECHAT_CLOUD_URL is required once any integration is configured.');
    else wechatCloud = { url: cloudUrl, timeoutMs };
    if (!appId) problems.push('WECHAT_APP_ID and WECHAT_APP_SECRET are required once any integration is configured (WeChat OAuth).');
    else {
      required('WECHAT_APP_ID', ['WECHAT_APP_SECRET']);
      wechatOAuth = { apiUrl: url('WECHAT_API_URL') ?? 'https://api.weixin.qq.com', appId, appSecret: get('WECHAT_APP_SECRET') ?? '', timeoutMs };
    }
    required('Aliyun SMS', ['ALIYUN_ACCESS_KEY_ID', 'ALIYUN_ACCESS_KEY_SECRET', 'SMS_SIGN_NAME']);
    sms = {
      endpoint: smsEndpoint ?? 'https://dysmsapi.aliyuncs.com',
      accessKeyId: get('ALIYUN_ACCESS_KEY_ID') ?? '',
      accessKeySecret: get('ALIYUN_ACCESS_KEY_SECRET') ?? '',
      signName: get('SMS_SIGN_NAME') ?? '',
      timeoutMs,
    };
  }

  const templates = { sms: {} as Record<TemplateName, string>, wechat: {} as Record<TemplateName, string> };
  for (const name of TEMPLATE_NAMES) {
    const upper = name.toUpperCase();
    // Simulated mode (and an unset id) falls back to the event name itself, which the simulators accept.
    const smsTpl = get(`SMS_TPL_${upper}`);
    const wxTpl = get(`WECHAT_TPL_${upper}`);
    if (!simulated && !smsTpl) problems.push(`SMS_TPL_${upper} is required: the Aliyun template code for "${name}".`);
    if (!simulated && !wxTpl && name !== 'verification_code') problems.push(`WECHAT_TPL_${upper} is required: the WeChat template id for "${name}".`);
    templates.sms[name] = smsTpl ?? name;
    templates.wechat[name] = wxTpl ?? name;
  }

  const driver = get('STORAGE_DRIVER') ?? 'local';
  let storage: Config['storage'];
  if (driver === 'local') {
    storage = { driver: 'local', dir: get('STORAGE_LOCAL_DIR') ?? './data/files' };
  } else if (driver === 's3') {
    required('STORAGE_DRIVER=s3', ['S3_REGION', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']);
    storage = {
      driver: 's3',
      endpoint: url('S3_ENDPOINT'),
      region: get('S3_REGION') ?? '',
      bucket: get('S3_BUCKET') ?? '',
      accessKeyId: get('S3_ACCESS_KEY_ID') ?? '',
      secretAccessKey: get('S3_SECRET_ACCESS_KEY') ?? '',
      publicUrl: url('S3_PUBLIC_URL'),
      forcePathStyle: bool('S3_FORCE_PATH_STYLE', false),
      // A private bucket: avatars are handed out as short-lived signed URLs.
      private: bool('S3_PRIVATE', false),
      signedUrlTtlSeconds: int('S3_SIGNED_URL_TTL_S', 900, 60, 7 * 86_400),
    };
  } else {
    problems.push(`STORAGE_DRIVER=${JSON.stringify(driver)} must be "local" or "s3".`);
    storage = { driver: 'local', dir: './data/files' };
  }

  const sessionSecret = get('SESSION_SECRET') ?? null;
  if (sessionSecret !== null && sessionSecret.length < 32) problems.push('SESSION_SECRET must be at least 32 characters (try: openssl rand -hex 32).');
  if (envName === 'production') {
    if (simulated)
      problems.push(
        'NODE_ENV=production refuses to run with simulated integrations: set KOALA_URL, WECHAT_CLOUD_URL, WECHAT_APP_ID/SECRET and the Aliyun SMS settings.',
      );
    if (!sessionSecret) problems.push('SESSION_SECRET is required in production (try: openssl rand -hex 32).');
  }

  const config: Config = {
    env: envName,
    port,
    host,
    trustProxy: bool('TRUST_PROXY', false),
    publicUrl,
    databaseUrl,
    sessionSecret,
    sessionTtlSeconds: int('SESSION_TTL', 604_800, 60, 90 * 86_400),
    applyPerHour: int('APPLY_PER_HOUR', 20, 1, 100_000),
    rateLimitPerMinute: int('RATE_LIMIT_PER_MINUTE', 1200, 0, 10_000_000),
    bindVerifyPhone: bool('BIND_VERIFY_PHONE', true),
    logLevel: get('LOG_LEVEL') ?? (envName === 'test' ? 'silent' : 'info'),
    simulated,
    koala,
    wechatCloud,
    wechatOAuth,
    sms,
    templates,
    firstAdmin: firstAdmin(get('ADMIN_USERNAME'), get('ADMIN_PASSWORD'), problems),
    storage,
    notify: {
      send: notifySend(bool('NOTIFY_SEND', true), oneProcessOnly(databaseUrl, simulated), problems),
      // While this process answers this many requests a second or more, sending gives way to
      // them: at most NOTIFY_YIELD_RATE messages a second, the rest wait in the outbox (0: never).
      yieldAt: int('NOTIFY_YIELD_AT', 200, 0, 1_000_000),
      yieldRate: int('NOTIFY_YIELD_RATE', 50, 1, 100_000),
      pollingIntervalSeconds: Math.max(0.5, int('NOTIFY_POLL_MS', 1000, 500, 60_000) / 1000),
      // 5 s doubling to 60 s, 60 retries: about an hour of trying, and delivery within a minute
      // of an outage's end.
      retryLimit: int('NOTIFY_RETRY_LIMIT', 60, 0, 10_000),
      retryDelaySeconds: int('NOTIFY_RETRY_DELAY_S', 5, 1, 3600),
      maxRetryDelaySeconds: int('NOTIFY_RETRY_MAX_DELAY_S', 60, 1, 86_400),
      batchSize: int('NOTIFY_BATCH_SIZE', 50, 1, 1000),
      // A claimed notification's lease: one whose process died is sent again after this long. It
      // must outlast the slowest send (two upstream timeouts and then some). Also the expiry of a
      // Koala job taken by a worker that died.
      expireInSeconds: int('NOTIFY_EXPIRE_S', 60, 5, 3600),
      // How often pg-boss looks for expired Koala jobs.
      maintenanceIntervalSeconds: int('NOTIFY_MAINTENANCE_S', 15, 1, 3600),
    },
    koalaCacheSeconds: int('KOALA_CACHE_SECONDS', 600, 0, 86_400 * 30),
    koalaStaffRefreshSeconds: int('KOALA_STAFF_REFRESH_SECONDS', 0, 0, 86_400),
    visits: { signinLeadMinutes: int('SIGNIN_LEAD_MINUTES', 30, 0, 24 * 60), sweepSeconds: int('VISIT_SWEEP_S', 30, 1, 3600) },
    corsOrigins: corsOrigins(get('CORS_ORIGINS'), problems),
    smsCaps: {
      perPhonePerHour: int('SMS_PER_PHONE_PER_HOUR', 10, 1, 100_000),
      perPhonePerDay: int('SMS_PER_PHONE_PER_DAY', 30, 1, 1_000_000),
      globalPerHour: int('SMS_GLOBAL_PER_HOUR', 2000, 1, 10_000_000),
    },
    retention: {
      days: int('RETENTION_DAYS', 90, 1, 36_500),
      sweepIntervalSeconds: int('RETENTION_SWEEP_S', 3600, 1, 86_400),
      batchSize: int('RETENTION_BATCH', 500, 1, 100_000),
    },
    upkeepSeconds: int('UPKEEP_INTERVAL_S', 15, 1, 86_400),
    webConcurrency: webConcurrency(get('WEB_CONCURRENCY'), oneProcessOnly(databaseUrl, simulated), problems),
    recordsCache: { maxBytes: int('RECORDS_CACHE_MB', 16, 0, 4096) * 1024 * 1024, ttlSeconds: int('RECORDS_CACHE_SECONDS', 300, 1, 86_400) },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The embedded database and the simulators live in this process: no other process can share the work. */
function oneProcessOnly(databaseUrl: string, simulated: boolean): boolean {
  return databaseUrl.startsWith('pglite://') || simulated;
}

function webConcurrency(raw: string | undefined, oneProcess: boolean, problems: string[]): number {
  if (raw === undefined) return 1;
  const n = raw === 'auto' ? availableParallelism() : /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 64)) {
    problems.push(`WEB_CONCURRENCY=${JSON.stringify(raw)} must be auto or a whole number from 1 to 64.`);
    return 1;
  }
  if (n > 1 && oneProcess) {
    problems.push(
      'WEB_CONCURRENCY above 1 needs PostgreSQL (DATABASE_URL=postgres://…) and the real integrations: the embedded database and the simulators live in one process.',
    );
    return 1;
  }
  return n;
}

/**
 * NOTIFY_SEND=false: this process answers requests but sends no notifications; another process
 * on the same database must (every replica with it on claims from the same outbox).
 */
function notifySend(send: boolean, oneProcess: boolean, problems: string[]): boolean {
  if (!send && oneProcess) {
    problems.push(
      'NOTIFY_SEND=false needs PostgreSQL (DATABASE_URL=postgres://…) and the real integrations: another process must send, and the embedded database and the simulators live in this one.',
    );
    return true;
  }
  return send;
}

/** `https://a.example.com, https://b.example.com` → exact origins; `*` is refused (sessions are bearer tokens, but be explicit). */
function corsOrigins(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined) return [];
  const out: string[] = [];
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      const u = new URL(item);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== item.replace(/\/+$/, '')) throw new Error('not an origin');
      out.push(u.origin);
    } catch {
      problems.push(`CORS_ORIGINS: ${JSON.stringify(item)} must be an origin such as https://h5.example.com (scheme, host and port only).`);
    }
  }
  return out;
}

/** Both or neither; the password is checked here so a weak one stops the start, and never echoed. */
function firstAdmin(username: string | undefined, password: string | undefined, problems: string[]): Config['firstAdmin'] {
  if (username === undefined && password === undefined) return null;
  if (username === undefined || password === undefined) {
    problems.push('ADMIN_USERNAME and ADMIN_PASSWORD go together (the first admin, created when there is none).');
    return null;
  }
  if (!/^[A-Za-z0-9_.@-]{3,64}$/.test(username)) problems.push('ADMIN_USERNAME must be 3–64 letters, digits or _ . @ -.');
  if (password.length < 10) problems.push('ADMIN_PASSWORD must be at least 10 characters.');
  return { username, password };
}

/** A fresh random secret, for data directories that have none yet (never used in production). */
export function randomSecret(): string {
  return randomBytes(32).toString('hex');
}
