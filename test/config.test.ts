import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

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
});
