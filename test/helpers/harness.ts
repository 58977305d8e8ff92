import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { startKoalaSimulator, type KoalaSimulator, type KoalaSimulatorOptions } from '../../src/adapters/koala/simulator.js';
import { startAliyunSmsSimulator, type AliyunSmsSimulator, type AliyunSmsSimulatorOptions } from '../../src/adapters/sms/simulator.js';
import { startWechatCloudSimulator, type WechatCloudSimulator } from '../../src/adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator, type WechatOAuthSimulator } from '../../src/adapters/wechat-oauth/simulator.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { integrationEnv } from '../../src/simulators.js';
import { oauthSignIn, type Post } from './oauth.js';

export type DbKind = 'pglite' | 'pg';

/** Which database this test run uses: set per Vitest project (see vitest.config.ts). */
export function testDbKind(): DbKind {
  return process.env.LAIFANG_TEST_DB === 'pg' ? 'pg' : 'pglite';
}

export interface Sims {
  koala: KoalaSimulator;
  cloud: WechatCloudSimulator;
  oauth: WechatOAuthSimulator;
  sms: AliyunSmsSimulator;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  now?: () => number;
  koala?: KoalaSimulatorOptions;
  sms?: AliyunSmsSimulatorOptions;
  logger?: Logger;
  /** The database to start on (default: a fresh clone of the migrated template); the runtime migrates it. */
  database?: () => Promise<{ database: Database; url: string; drop: () => Promise<void> }>;
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

export interface Harness {
  runtime: Runtime;
  sims: Sims;
  database: Database;
  request<T = any>(
    method: string,
    url: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string>; payload?: string },
  ): Promise<Reply<T>>;
  /** A POST as a browser sends it (for test/helpers/oauth.ts). */
  post: Post;
  /** A session for this WeChat openid through the real OAuth round (state cookie, WeChat, code exchange). */
  session(weixinUserId: string): Promise<string>;
  /** Binds openid ↔ phone directly in the cloud simulator (as if bound elsewhere) and returns a session. */
  bound(weixinUserId: string, phone: string): Promise<string>;
  waitFor<T>(probe: () => T | Promise<T>, opts?: { timeoutMs?: number; what?: string }): Promise<NonNullable<T>>;
  close(): Promise<void>;
}

/** The demo staff of the Koala simulator (normalised phones). */
export const STAFF = {
  zhangwei: { name: '张伟', phone: '13800000001', subjectId: 1001, department: '研发部' },
  lina: { name: '李娜', phone: '13800000002', subjectId: 1002, department: '行政部' },
  wangfang: { name: '王芳', phone: '13800000003', subjectId: 1003, department: '市场部' },
  liuyang: { name: '刘洋', phone: '13800000004', subjectId: 1004, department: '' },
} as const;

export function futureWindow(hoursFromNow = 1, lengthHours = 2): { start_time: number; end_time: number } {
  const start = Math.floor(Date.now() / 1000) + hoursFromNow * 3600;
  return { start_time: start, end_time: start + lengthHours * 3600 };
}

/**
 * A fresh database cloned from the migrated template: PGlite in memory (or in `pgliteDir`, for
 * a service run as a separate process), or a new PostgreSQL database.
 */
export async function openTestDatabase(opts: { pgliteDir?: string } = {}): Promise<{ database: Database; url: string; drop: () => Promise<void> }> {
  if (testDbKind() === 'pglite') {
    const dir = opts.pgliteDir ?? mkdtempSync(join(tmpdir(), 'laifang-db-'));
    cpSync(inject('pgliteTemplate'), dir, { recursive: true });
    const url = `pglite://${dir}`;
    const database = await openDatabase(url);
    return { database, url, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = process.env.TEST_DATABASE_URL;
  const template = inject('pgTemplate');
  if (!base || !template) throw new Error('LAIFANG_TEST_DB=pg needs TEST_DATABASE_URL');
  const name = `laifang_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name} template ${template}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase(url.toString(), { poolSize: 5 });
  return {
    database,
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/**
 * The service's own logger; unless LAIFANG_TEST_LOG asks for output, every line at level debug
 * goes to a file in the run's log directory, which the global teardown scans for full phone
 * numbers (PIPL, issue 6).
 */
export function testLogger(level: string): Logger {
  const dir = inject('logDir');
  if (process.env.LAIFANG_TEST_LOG || !dir) return createLogger(level);
  const file = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}.log`);
  return createLogger('debug', pino.destination({ dest: file, sync: true }));
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(opts.koala),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ verificationTemplates: ['SMS_TPL_VERIFICATION_CODE'], ...opts.sms }),
  ]);
  const sims: Sims = { koala, cloud, oauth, sms };
  const storageDir = mkdtempSync(join(tmpdir(), 'laifang-files-'));
  const { database, url, drop } = await (opts.database ?? openTestDatabase)();

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: url,
    SESSION_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    PUBLIC_URL: 'http://laifang.test',
    ...integrationEnv(sims),
    STORAGE_LOCAL_DIR: storageDir,
    RATE_LIMIT_PER_MINUTE: '0',
    NOTIFY_POLL_MS: '500',
    NOTIFY_RETRY_DELAY_S: '1',
    UPSTREAM_TIMEOUT_MS: '2000',
    LOG_LEVEL: process.env.LAIFANG_TEST_LOG ?? 'silent',
    ...opts.env,
  };
  const config = loadConfig(env);
  const runtime = await createRuntime(config, { database, now: opts.now, logger: opts.logger ?? testLogger(config.logLevel) });

  const harness: Harness = {
    runtime,
    sims,
    database,
    async request(method, url, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      const res = await runtime.app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(o.payload !== undefined ? { payload: o.payload } : o.body !== undefined ? { payload: o.body as object } : {}),
      });
      let body: unknown = res.body;
      try {
        body = JSON.parse(res.body);
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.statusCode, body: body as never, headers: res.headers as Reply['headers'] };
    },
    async session(weixinUserId) {
      // Set-up, not the subject of a test (test/api/session.test.ts posts /v1/session itself):
      // on a machine whose cores are busy the OAuth simulator may miss the 2 s upstream timeout,
      // so a 503 UPSTREAM_UNAVAILABLE is tried again with a new code (a code works once).
      for (let attempt = 1; ; attempt++) {
        const res = await oauthSignIn(harness.post, oauth, weixinUserId);
        if (res.status === 200) return res.body.data.token as string;
        if (res.status !== 503 || attempt >= 3) throw new Error(`session failed: ${JSON.stringify(res.body)}`);
      }
    },
    async post(path, body, headers) {
      const res = await harness.request('POST', path, { body, headers });
      return { status: res.status, body: res.body, setCookie: res.headers['set-cookie'] };
    },
    async bound(weixinUserId, phone) {
      cloud.bind(weixinUserId, phone);
      return harness.session(weixinUserId);
    },
    async waitFor(probe, o = {}) {
      const deadline = Date.now() + (o.timeoutMs ?? 10_000);
      for (;;) {
        const v = await probe();
        if (v) return v as NonNullable<typeof v>;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what ?? 'a condition'}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await runtime.close();
      await Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]);
      await drop();
      rmSync(storageDir, { recursive: true, force: true });
      const unexpected = Object.entries(sims).flatMap(([n, s]) =>
        s.server.unexpected.map((r: { method: string; path: string }) => `${n}: ${r.method} ${r.path}`),
      );
      if (unexpected.length > 0) throw new Error(`requests the simulators do not speak:\n${unexpected.join('\n')}`);
    },
  };
  return harness;
}
