import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, randomSecret, TEMPLATE_NAMES } from '../src/config.js';

/** The real integrations (addresses that are never called here). */
const REAL: Record<string, string> = {
  KOALA_URL: 'http://koala.local',
  KOALA_USERNAME: 'admin@corp',
  KOALA_PASSWORD: 'koala-pw',
  WECHAT_CLOUD_URL: 'http://cloud.local',
  WECHAT_APP_ID: 'wx123',
  WECHAT_APP_SECRET: 'app-secret',
  ALIYUN_ACCESS_KEY_ID: 'ak',
  ALIYUN_ACCESS_KEY_SECRET: 'sk',
  SMS_SIGN_NAME: '来访',
  ...Object.fromEntries(
    TEMPLATE_NAMES.flatMap((n) => [
      [`SMS_TPL_${n.toUpperCase()}`, `SMS_${n}`],
      [`WECHAT_TPL_${n.toUpperCase()}`, `WX_${n}`],
    ]),
  ),
};
const PRODUCTION = { ...REAL, NODE_ENV: 'production', SESSION_SECRET: randomSecret() };

/** The problems loadConfig lists, one a line. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message
      .split('\n')
      .filter((l) => l.startsWith('  - '))
      .map((l) => l.slice(4));
  }
}

describe('configuration', () => {
  it('runs simulated with nothing configured, with the contract defaults', () => {
    const c = loadConfig({});
    expect(c.simulated).toBe(true);
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:3000',
      databaseUrl: 'pglite://./data/db',
      sessionTtlSeconds: 604800,
      applyPerHour: 20,
      rateLimitPerMinute: 1200,
      bindVerifyPhone: true,
    });
    expect(c.storage).toEqual({ driver: 'local', dir: './data/files' });
    // Sending gives way above 200 requests a second, to 50 messages a second.
    expect(c.notify).toMatchObject({ send: true, yieldAt: 200, yieldRate: 50 });
    expect(loadConfig({ NOTIFY_YIELD_AT: '0', NOTIFY_YIELD_RATE: '5' }).notify).toMatchObject({ yieldAt: 0, yieldRate: 5 });
    expect(() => loadConfig({ NOTIFY_YIELD_RATE: '0' })).toThrow(ConfigError);
  });

  it('refuses production when simulated or without SESSION_SECRET, naming what to set', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    try {
      loadConfig({ NODE_ENV: 'production' });
    } catch (err) {
      expect((err as Error).message).toMatch(/simulated/);
      expect((err as Error).message).toMatch(/SESSION_SECRET/);
    }
  });

  it('needs every integration once one is configured', () => {
    expect(() => loadConfig({ KOALA_URL: 'http://koala.local' })).toThrow(/WECHAT_CLOUD_URL/);
    expect(() => loadConfig({ KOALA_URL: 'http://koala.local' })).toThrow(/KOALA_USERNAME/);
    expect(() => loadConfig({ KOALA_URL: 'http://koala.local' })).toThrow(/ALIYUN_ACCESS_KEY_ID/);
    expect(() => loadConfig({ KOALA_URL: 'http://koala.local' })).toThrow(/SMS_TPL_APPROVAL_PASS_TO_VISITOR/);
  });

  it('NOTIFY_SEND=false (a web-only replica) only where another process can send', () => {
    expect(loadConfig({}).notify.send).toBe(true);
    // Embedded or simulated: this process is the only one that could send.
    expect(() => loadConfig({ NOTIFY_SEND: 'false' })).toThrow(/NOTIFY_SEND=false needs PostgreSQL/);
    expect(() => loadConfig({ NOTIFY_SEND: 'false', DATABASE_URL: 'postgres://db.local/laifang' })).toThrow(/NOTIFY_SEND=false needs PostgreSQL/);
    expect(() => loadConfig({ NOTIFY_SEND: 'maybe' })).toThrow(/NOTIFY_SEND="maybe" must be true or false/);
  });

  it('names malformed values and how to fix them', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT="eighty" must be a whole number/);
    expect(() => loadConfig({ KOALA_URL: 'koala.local' })).toThrow(/KOALA_URL="koala.local" must be an http/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must start with postgres/);
    expect(() => loadConfig({ BIND_VERIFY_PHONE: 'maybe' })).toThrow(/BIND_VERIFY_PHONE="maybe" must be true or false/);
    expect(() => loadConfig({ STORAGE_DRIVER: 'ftp' })).toThrow(/STORAGE_DRIVER/);
    expect(() => loadConfig({ STORAGE_DRIVER: 's3' })).toThrow(/S3_BUCKET is required/);
    expect(() => loadConfig({ SESSION_SECRET: 'short' })).toThrow(/at least 32/);
  });

  it('reads booleans and the S3 settings', () => {
    const c = loadConfig({
      BIND_VERIFY_PHONE: 'false',
      STORAGE_DRIVER: 's3',
      S3_REGION: 'oss-cn-hangzhou',
      S3_BUCKET: 'b',
      S3_ACCESS_KEY_ID: 'k',
      S3_SECRET_ACCESS_KEY: 's',
      S3_ENDPOINT: 'https://oss-cn-hangzhou.aliyuncs.com',
    });
    expect(c.bindVerifyPhone).toBe(false);
    expect(c.storage).toMatchObject({ driver: 's3', bucket: 'b', forcePathStyle: false });
  });

  it('needs SESSION_SECRET with the real integrations in any environment, saying how to make one', () => {
    expect(loadConfig(PRODUCTION).simulated).toBe(false);
    for (const env of [{}, { NODE_ENV: 'development' }, { NODE_ENV: 'test' }] as Array<Record<string, string>>) {
      const problems = problemsOf({ ...REAL, ...env });
      expect(problems).toEqual([expect.stringMatching(/^SESSION_SECRET is required with the real integrations: .*openssl rand -hex 32/)]);
    }
    expect(problemsOf({ ...PRODUCTION, SESSION_SECRET: '' })).toEqual([
      expect.stringMatching(/^SESSION_SECRET is required in production: .*openssl rand -hex 32/),
    ]);
    // Simulated, the secret may still come from the database.
    expect(loadConfig({}).sessionSecret).toBeNull();
  });

  it('refuses a SESSION_SECRET that is long but not random with the real integrations', () => {
    const weak = {
      ['a'.repeat(64)]: /only 1 different characters/,
      ['ab'.repeat(20)]: /only 2 different characters/,
      ['changeme-changeme-changeme-changeme']: /repeats a piece of 9 characters/,
      ['0123456789abcdef0123456789abcdef']: /repeats a piece of 16 characters/,
      ['abcdefghijklmnopqrstuvwxyz012345']: /run of consecutive characters/,
      ['aaaaaaaaaaaaaaaaaaaaaaaaaabcdefg']: /about \d+ bits of randomness/,
    };
    for (const [secret, why] of Object.entries(weak)) {
      for (const env of [PRODUCTION, { ...REAL, NODE_ENV: 'test' }]) {
        const problems = problemsOf({ ...env, SESSION_SECRET: secret });
        expect(problems, secret).toHaveLength(1);
        expect(problems[0]).toMatch(/^SESSION_SECRET is too weak to sign sessions with \(/);
        expect(problems[0]).toMatch(why);
        expect(problems[0]).toMatch(/openssl rand -hex 32/);
        expect(problems[0]).not.toContain(secret); // never echoed
      }
    }
    // Random ones pass, as short as 32 hex characters; simulated, only the length is checked.
    for (let i = 0; i < 200; i++) expect(problemsOf({ ...PRODUCTION, SESSION_SECRET: randomSecret().slice(0, 32) })).toEqual([]);
    expect(loadConfig({ SESSION_SECRET: 'a'.repeat(32) }).sessionSecret).toBe('a'.repeat(32));
  });

  it('production refuses BIND_VERIFY_PHONE=false and says that RATE_LIMIT_PER_MINUTE=0 leaves requests unlimited', () => {
    expect(problemsOf({ ...PRODUCTION, BIND_VERIFY_PHONE: 'false' })).toEqual([
      expect.stringMatching(/^BIND_VERIFY_PHONE=false is refused in production: .*Remove it \(the default is true\)\.$/),
    ]);
    expect(loadConfig(PRODUCTION).warnings).toEqual([]);
    const unlimited = loadConfig({ ...PRODUCTION, RATE_LIMIT_PER_MINUTE: '0' });
    expect(unlimited.rateLimitPerMinute).toBe(0);
    expect(unlimited.warnings).toEqual([expect.stringMatching(/^RATE_LIMIT_PER_MINUTE=0: requests are not limited per client address\./)]);
    // Outside production both are the operator's (tests run without the limit, some without SMS codes).
    expect(loadConfig({ ...REAL, SESSION_SECRET: randomSecret(), BIND_VERIFY_PHONE: 'false', RATE_LIMIT_PER_MINUTE: '0' }).warnings).toEqual([]);
  });

  it('serves /docs by default except in production, where API_DOCS=true turns it on', () => {
    expect(loadConfig({}).apiDocs).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).apiDocs).toBe(true);
    expect(loadConfig({ API_DOCS: 'false' }).apiDocs).toBe(false);
    expect(loadConfig(PRODUCTION).apiDocs).toBe(false);
    expect(loadConfig({ ...PRODUCTION, API_DOCS: 'true' }).apiDocs).toBe(true);
    expect(problemsOf({ API_DOCS: 'perhaps' })).toEqual(['API_DOCS="perhaps" must be true or false.']);
  });

  it('serves /metrics by default; in production only with METRICS_TOKEN, and METRICS=on without one is refused', () => {
    const token = randomSecret();
    expect(loadConfig({}).metrics).toEqual({ enabled: true, token: null });
    expect(loadConfig({ METRICS: 'off' }).metrics).toEqual({ enabled: false, token: null });
    expect(loadConfig({ METRICS_TOKEN: token }).metrics).toEqual({ enabled: true, token });
    expect(loadConfig(PRODUCTION).metrics).toEqual({ enabled: false, token: null });
    expect(loadConfig({ ...PRODUCTION, METRICS_TOKEN: token }).metrics).toEqual({ enabled: true, token });
    expect(loadConfig({ ...PRODUCTION, METRICS_TOKEN: token, METRICS: 'off' }).metrics.enabled).toBe(false);
    expect(problemsOf({ ...PRODUCTION, METRICS: 'on' })).toEqual([expect.stringMatching(/^METRICS=on is refused in production without METRICS_TOKEN: /)]);
    expect(problemsOf({ METRICS_TOKEN: 'short' })).toEqual([expect.stringMatching(/^METRICS_TOKEN /)]);
  });

  it('TRUST_PROXY names the proxies; true and hop counts are refused, saying what to set', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1' }).trustProxy).toEqual(['127.0.0.1']);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, ::1 ,fd00::/8, loopback' }).trustProxy).toEqual(['10.0.0.0/8', '::1', 'fd00::/8', 'loopback']);
    for (const value of ['true', 'TRUE', 'yes']) {
      expect(problemsOf({ TRUST_PROXY: value })).toEqual([
        expect.stringMatching(new RegExp(`^TRUST_PROXY=${value} would trust every hop, .*TRUST_PROXY=127\\.0\\.0\\.1 for nginx on this machine`)),
      ]);
    }
    expect(problemsOf({ TRUST_PROXY: '2' })).toEqual([expect.stringMatching(/^TRUST_PROXY=2: a number of hops cannot tell a proxy from a client/)]);
    expect(problemsOf({ TRUST_PROXY: '127.0.0.1, nginx.local, 10.0.0.0/33' })).toEqual([
      'TRUST_PROXY: "nginx.local" must be an IP address, a CIDR such as 10.0.0.0/8, or loopback, linklocal or uniquelocal.',
      'TRUST_PROXY: "10.0.0.0/33" must be an IP address, a CIDR such as 10.0.0.0/8, or loopback, linklocal or uniquelocal.',
    ]);
  });

  it('working hours: 09–18 China time by default, the start before the end', () => {
    expect(loadConfig({}).workHours).toEqual({ start: 9, end: 18 });
    expect(loadConfig({ WORK_HOURS_START: '8', WORK_HOURS_END: '20' }).workHours).toEqual({ start: 8, end: 20 });
    expect(problemsOf({ WORK_HOURS_START: '18', WORK_HOURS_END: '9' })).toEqual(['WORK_HOURS_START (18) must be earlier than WORK_HOURS_END (9).']);
  });
});
