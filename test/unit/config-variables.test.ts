import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, TEMPLATE_NAMES } from '../../src/config.js';
import { EnvReader, orList, parseValue, type Spec } from '../../src/config/kinds.js';
import { VARIABLES } from '../../src/config/variables.js';

/** A configuration that reads every variable: the real integrations, S3 storage, PostgreSQL. */
const FULL: Record<string, string> = {
  DATABASE_URL: 'postgres://db.local/laifang',
  SESSION_SECRET: '7f3c9a1e5b2d8046c1e9f7a3b5d20e84',
  KOALA_URL: 'http://koala.local',
  KOALA_USERNAME: 'admin@corp',
  KOALA_PASSWORD: 'koala-pw',
  WECHAT_CLOUD_URL: 'http://cloud.local',
  WECHAT_APP_ID: 'wx123',
  WECHAT_APP_SECRET: 'app-secret',
  ALIYUN_ACCESS_KEY_ID: 'ak',
  ALIYUN_ACCESS_KEY_SECRET: 'sk',
  SMS_SIGN_NAME: '来访',
  STORAGE_DRIVER: 's3',
  S3_REGION: 'oss-cn-hangzhou',
  S3_BUCKET: 'b',
  S3_ACCESS_KEY_ID: 'k',
  S3_SECRET_ACCESS_KEY: 's',
  ...Object.fromEntries(
    TEMPLATE_NAMES.flatMap((n) => [
      [`SMS_TPL_${n.toUpperCase()}`, `SMS_${n}`],
      [`WECHAT_TPL_${n.toUpperCase()}`, `WX_${n}`],
    ]),
  ),
};

const problemsOf = (env: Record<string, string>): string[] => {
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
};

describe('the table of variables', () => {
  it('has defaults its own kinds accept', () => {
    for (const [name, spec] of Object.entries(VARIABLES as Record<string, Spec>)) {
      expect(spec.meaning, name).toMatch(/^\S.*\.$/);
      if (spec.kind === 'int') expect(spec.default, name).toBeGreaterThanOrEqual(spec.min);
      if (spec.kind === 'int') expect(spec.default, name).toBeLessThanOrEqual(spec.max);
      if (spec.kind === 'enum') expect(spec.values, name).toContain(spec.default);
      if ('default' in spec && typeof spec.default === 'string') expect(parseValue(name, spec, spec.default).problems, name).toEqual([]);
    }
  });

  it('is what loadConfig checks: every variable refuses a value of the wrong kind, by name', () => {
    expect(problemsOf(FULL)).toEqual([]);
    for (const [name, spec] of Object.entries(VARIABLES as Record<string, Spec>)) {
      const bad =
        spec.kind === 'int'
          ? {
              value: String(spec.max + 1),
              message: `${name}="${spec.max + 1}" must be ${spec.auto ? 'auto or ' : ''}a whole number from ${spec.min} to ${spec.max}.`,
            }
          : spec.kind === 'bool'
            ? { value: 'maybe', message: `${name}="maybe" must be true or false.` }
            : spec.kind === 'url'
              ? { value: 'no-scheme.local', message: `${name}="no-scheme.local" must be an http:// or https:// URL.` }
              : null;
      if (bad) expect(problemsOf({ ...FULL, [name]: bad.value }), name).toContain(bad.message);
    }
  });

  it('reads the defaults of the table when nothing is set', () => {
    const c = loadConfig({});
    expect(c.port).toBe(VARIABLES.PORT.default);
    expect(c.retention.days).toBe(VARIABLES.RETENTION_DAYS.default);
    expect(c.recordsCache.maxBytes).toBe(VARIABLES.RECORDS_CACHE_MB.default * 1024 * 1024);
    expect(c.notify.pollingIntervalSeconds).toBe(VARIABLES.NOTIFY_POLL_MS.default / 1000);
    expect(c.webConcurrency).toBe(1);
    expect(c.corsOrigins).toEqual([]);
    expect(c.logLevel).toBe('info');
    expect(loadConfig({ NODE_ENV: 'test' }).logLevel).toBe('silent');
  });

  it('KOALA_TIMEOUT_MS defaults to UPSTREAM_TIMEOUT_MS; WEB_CONCURRENCY=auto is one per core', () => {
    expect(loadConfig({ ...FULL, UPSTREAM_TIMEOUT_MS: '7000' }).koala?.timeoutMs).toBe(7000);
    expect(loadConfig({ ...FULL, UPSTREAM_TIMEOUT_MS: '7000', KOALA_TIMEOUT_MS: '9000' }).koala?.timeoutMs).toBe(9000);
    if (availableParallelism() <= 64) expect(loadConfig({ ...FULL, WEB_CONCURRENCY: 'auto' }).webConcurrency).toBe(availableParallelism());
    expect(problemsOf({ WEB_CONCURRENCY: '2' })[0]).toMatch(/^WEB_CONCURRENCY above 1 needs PostgreSQL/);
  });

  it('checks a variable only where the configuration uses it', () => {
    // Simulated: the Koala timeout is not used; local storage: the S3 settings are not used.
    expect(problemsOf({ KOALA_TIMEOUT_MS: 'slow', S3_SIGNED_URL_TTL_S: 'long', S3_PRIVATE: 'maybe' })).toEqual([]);
    expect(problemsOf({ ...FULL, STORAGE_DRIVER: 'local', S3_PRIVATE: 'maybe' })).toEqual([]);
  });

  it('CORS_ORIGINS: exact origins, each bad one named', () => {
    expect(loadConfig({ CORS_ORIGINS: ' https://a.example.com, http://b.example.com:8080/ ,' }).corsOrigins).toEqual([
      'https://a.example.com',
      'http://b.example.com:8080',
    ]);
    expect(problemsOf({ CORS_ORIGINS: '*, https://a.example.com/path' })).toEqual([
      'CORS_ORIGINS: "*" must be an origin such as https://h5.example.com (scheme, host and port only).',
      'CORS_ORIGINS: "https://a.example.com/path" must be an origin such as https://h5.example.com (scheme, host and port only).',
    ]);
  });
});

describe('EnvReader', () => {
  it('parses a variable once however often it is read, and tells given from default', () => {
    const r = new EnvReader(VARIABLES, { PORT: 'eighty', ALIYUN_SMS_ENDPOINT: '  ', WECHAT_API_URL: 'https://wx.local//' });
    expect(r.read('PORT')).toBe(3000);
    expect(r.read('PORT')).toBe(3000);
    expect(r.given('PORT')).toBeUndefined();
    expect(r.problems).toEqual(['PORT="eighty" must be a whole number from 0 to 65535.']);
    // Blank is unset: the default applies, but it was not given.
    expect(r.given('ALIYUN_SMS_ENDPOINT')).toBeUndefined();
    expect(r.read('ALIYUN_SMS_ENDPOINT')).toBe('https://dysmsapi.aliyuncs.com');
    expect(r.read('WECHAT_API_URL')).toBe('https://wx.local');
  });

  it('names the choices of an enum', () => {
    expect(orList(['"a"'])).toBe('"a"');
    expect(orList(['"a"', '"b"', '"c"'])).toBe('"a", "b" or "c"');
    expect(problemsOf({ STORAGE_DRIVER: 'ftp' })).toEqual(['STORAGE_DRIVER="ftp" must be "local" or "s3".']);
  });
});
