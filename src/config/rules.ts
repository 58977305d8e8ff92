import type { EnvReader } from './kinds.js';
import { secretWeakness } from './secret-strength.js';
import { TEMPLATE_NAMES, type Config, type TemplateName } from './shape.js';
import type { Variables } from './variables.js';

/** The rules that tie several variables together, each reading what it needs through `r`. */
type Reader = EnvReader<Variables>;

export function environment(r: Reader): Config['env'] {
  const nodeEnv = r.read('NODE_ENV');
  return nodeEnv === 'production' ? 'production' : nodeEnv === 'test' ? 'test' : 'development';
}

/** PUBLIC_URL defaults to the listen address (a wildcard host is reached as 127.0.0.1). */
export function listenAddress(r: Reader): Pick<Config, 'port' | 'host' | 'publicUrl'> {
  const port = r.read('PORT');
  const host = r.read('HOST');
  const publicUrl = r.read('PUBLIC_URL') ?? `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  return { port, host, publicUrl };
}

type Integrations = Pick<Config, 'simulated' | 'koala' | 'wechatCloud' | 'wechatOAuth' | 'sms'>;

/**
 * Simulated when none of the integrations is set; once one is, all of them are required, so a
 * deployment never runs half against simulators.
 */
export function integrations(r: Reader): Integrations {
  const koalaUrl = r.given('KOALA_URL');
  const cloudUrl = r.given('WECHAT_CLOUD_URL');
  const smsEndpoint = r.given('ALIYUN_SMS_ENDPOINT');
  const appId = r.given('WECHAT_APP_ID');
  const simulated = !koalaUrl && !cloudUrl && !smsEndpoint && !appId;
  const timeoutMs = r.read('UPSTREAM_TIMEOUT_MS');
  const out: Integrations = { simulated, koala: null, wechatCloud: null, wechatOAuth: null, sms: null };
  if (simulated) return out;

  if (!koalaUrl) r.problem('KOALA_URL is required once any integration is configured (or set none of them to run simulated).');
  else {
    r.require('KOALA_URL', ['KOALA_USERNAME', 'KOALA_PASSWORD']);
    out.koala = { url: koalaUrl, username: r.read('KOALA_USERNAME') ?? '', password: r.read('KOALA_PASSWORD') ?? '', timeoutMs: r.read('KOALA_TIMEOUT_MS') };
  }
  if (!cloudUrl) r.problem('WECHAT_CLOUD_URL is required once any integration is configured.');
  else out.wechatCloud = { url: cloudUrl, timeoutMs };
  if (!appId) r.problem('WECHAT_APP_ID and WECHAT_APP_SECRET are required once any integration is configured (WeChat OAuth).');
  else {
    r.require('WECHAT_APP_ID', ['WECHAT_APP_SECRET']);
    out.wechatOAuth = { apiUrl: r.read('WECHAT_API_URL'), appId, appSecret: r.read('WECHAT_APP_SECRET') ?? '', timeoutMs };
  }
  r.require('Aliyun SMS', ['ALIYUN_ACCESS_KEY_ID', 'ALIYUN_ACCESS_KEY_SECRET', 'SMS_SIGN_NAME']);
  out.sms = {
    endpoint: r.read('ALIYUN_SMS_ENDPOINT'),
    accessKeyId: r.read('ALIYUN_ACCESS_KEY_ID') ?? '',
    accessKeySecret: r.read('ALIYUN_ACCESS_KEY_SECRET') ?? '',
    signName: r.read('SMS_SIGN_NAME') ?? '',
    timeoutMs,
  };
  return out;
}

/** With the integrations every event needs its template ids; simulated, an unset id is the event's name. */
export function templateIds(r: Reader, simulated: boolean): Config['templates'] {
  const templates = { sms: {} as Record<TemplateName, string>, wechat: {} as Record<TemplateName, string> };
  for (const name of TEMPLATE_NAMES) {
    const upper = name.toUpperCase() as Uppercase<TemplateName>;
    const smsTpl = r.read(`SMS_TPL_${upper}`);
    const wxTpl = r.read(`WECHAT_TPL_${upper}`);
    if (!simulated && !smsTpl) r.problem(`SMS_TPL_${upper} is required: the Aliyun template code for "${name}".`);
    if (!simulated && !wxTpl && name !== 'verification_code') r.problem(`WECHAT_TPL_${upper} is required: the WeChat template id for "${name}".`);
    templates.sms[name] = smsTpl ?? name;
    templates.wechat[name] = wxTpl ?? name;
  }
  return templates;
}

/** The S3 settings are read (and required) only with STORAGE_DRIVER=s3. */
export function storage(r: Reader): Config['storage'] {
  if (r.read('STORAGE_DRIVER') === 's3') {
    r.require('STORAGE_DRIVER=s3', ['S3_REGION', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']);
    return {
      driver: 's3',
      endpoint: r.read('S3_ENDPOINT'),
      region: r.read('S3_REGION') ?? '',
      bucket: r.read('S3_BUCKET') ?? '',
      accessKeyId: r.read('S3_ACCESS_KEY_ID') ?? '',
      secretAccessKey: r.read('S3_SECRET_ACCESS_KEY') ?? '',
      publicUrl: r.read('S3_PUBLIC_URL'),
      forcePathStyle: r.read('S3_FORCE_PATH_STYLE'),
      // A private bucket: avatars are handed out as short-lived signed URLs.
      private: r.read('S3_PRIVATE'),
      signedUrlTtlSeconds: r.read('S3_SIGNED_URL_TTL_S'),
    };
  }
  return { driver: 'local', dir: r.read('STORAGE_LOCAL_DIR') };
}

const NEW_SECRET = 'SESSION_SECRET=$(openssl rand -hex 32)';

/**
 * Production runs against the real systems; real systems (in any environment) need a secret of
 * their own, in the configuration: one generated into the database would be readable by
 * whoever reads the database (a backup, a replica), who could then forge sessions. A secret
 * that is long but not random (src/config/secret-strength.ts) is refused for the same reason.
 */
export function secretRules(r: Reader, env: Config['env'], simulated: boolean, sessionSecret: string | null): void {
  if (env === 'production' && simulated)
    r.problem(
      'NODE_ENV=production refuses to run with simulated integrations: set KOALA_URL, WECHAT_CLOUD_URL, WECHAT_APP_ID/SECRET and the Aliyun SMS settings.',
    );
  if (!sessionSecret) {
    if (env === 'production') r.problem(`SESSION_SECRET is required in production: set ${NEW_SECRET}.`);
    else if (!simulated)
      r.problem(
        `SESSION_SECRET is required with the real integrations: without it the signing key would be kept in the database, where whoever reads it could forge sessions. Set ${NEW_SECRET}.`,
      );
    return;
  }
  const weakness = simulated ? null : secretWeakness(sessionSecret);
  if (weakness) r.problem(`SESSION_SECRET is too weak to sign sessions with (${weakness}): set a random one, ${NEW_SECRET}.`);
}

/**
 * Production keeps the protections of real users: bindings prove the phone by SMS (refused
 * off: anybody could bind an employee's number and act as them), and a disabled request limit
 * is said at every start (allowed: nginx or a firewall may limit instead).
 */
export function productionGuards(r: Reader, env: Config['env']): void {
  if (env !== 'production') return;
  if (!r.read('BIND_VERIFY_PHONE'))
    r.problem(
      "BIND_VERIFY_PHONE=false is refused in production: without an SMS code anybody could bind an employee's phone number and act in their name. Remove it (the default is true).",
    );
  if (r.read('RATE_LIMIT_PER_MINUTE') === 0)
    r.warn(
      'RATE_LIMIT_PER_MINUTE=0: requests are not limited per client address. Only acceptable when nginx or a firewall limits them; otherwise set it (default 1200).',
    );
}

/**
 * GET /metrics: served by default; in production only behind a token (the request counts, outbox
 * depth and upstream errors describe the service to whoever can read them). METRICS=on there
 * without METRICS_TOKEN is refused; left unset, it is simply off.
 */
export function metrics(r: Reader, env: Config['env']): Config['metrics'] {
  const token = r.read('METRICS_TOKEN') ?? null;
  const asked = r.given('METRICS');
  if (env === 'production' && asked === 'on' && !token)
    r.problem('METRICS=on is refused in production without METRICS_TOKEN: set one (openssl rand -hex 32) for Prometheus, or METRICS=off.');
  const enabled = asked === 'off' ? false : env !== 'production' || token !== null;
  return { enabled, token };
}

/** The API's description at /docs and /docs/json: on by default, off by default in production. */
export function apiDocs(r: Reader, env: Config['env']): boolean {
  return r.given('API_DOCS') ?? env !== 'production';
}

/** The embedded database and the simulators live in this process: no other process can share the work. */
export function oneProcessOnly(databaseUrl: string, simulated: boolean): boolean {
  return databaseUrl.startsWith('pglite://') || simulated;
}

/** Several processes need a database and integrations they can share. */
export function webConcurrency(r: Reader, oneProcess: boolean): number {
  const n = r.read('WEB_CONCURRENCY');
  if (n > 1 && oneProcess) {
    r.problem(
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
export function notifySend(r: Reader, oneProcess: boolean): boolean {
  const send = r.read('NOTIFY_SEND');
  if (!send && oneProcess) {
    r.problem(
      'NOTIFY_SEND=false needs PostgreSQL (DATABASE_URL=postgres://…) and the real integrations: another process must send, and the embedded database and the simulators live in this one.',
    );
    return true;
  }
  return send;
}

/** Both or neither; the password is checked here so a weak one stops the start, and never echoed. */
export function firstAdmin(r: Reader): Config['firstAdmin'] {
  const username = r.read('ADMIN_USERNAME');
  const password = r.read('ADMIN_PASSWORD');
  if (username === undefined && password === undefined) return null;
  if (username === undefined || password === undefined) {
    r.problem('ADMIN_USERNAME and ADMIN_PASSWORD go together (the first admin, created when there is none).');
    return null;
  }
  if (!/^[A-Za-z0-9_.@-]{3,64}$/.test(username)) r.problem('ADMIN_USERNAME must be 3–64 letters, digits or _ . @ -.');
  if (password.length < 10) r.problem('ADMIN_PASSWORD must be at least 10 characters.');
  return { username, password };
}

/** Working hours (China time): a day's span of whole hours, its start before its end. */
export function workHours(r: Reader): Config['workHours'] {
  const start = r.read('WORK_HOURS_START');
  const end = r.read('WORK_HOURS_END');
  if (start >= end) r.problem(`WORK_HOURS_START (${start}) must be earlier than WORK_HOURS_END (${end}).`);
  return { start, end };
}
