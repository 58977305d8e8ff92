import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalStorage } from '../../src/adapters/storage/local.js';
import { createS3Storage } from '../../src/adapters/storage/s3.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { applicationPeople, applications, landedFiles, notifications, smsCodes } from '../../src/db/schema.js';
import { startRetention } from '../../src/modules/privacy/retention.js';
import { createLogger } from '../../src/log.js';
import { createAudit } from '../../src/modules/audit/service.js';
import { createPrivacy } from '../../src/modules/privacy/service.js';
import { newOpenid, newPhone, settled, TestClock } from '../helpers/apply.js';
import { STAFF, startHarness, type Harness } from '../helpers/harness.js';

/** Privacy (PIPL): retention, export / erasure of one phone, unguessable avatar keys, private buckets. */
const DAY = 86_400;
const ADMIN = { username: 'privacy-admin', password: 'privacy-admin-password-1' };

describe('retention: visit records go RETENTION_DAYS after the visit window', () => {
  let h: Harness;
  const clock = new TestClock();
  beforeAll(async () => {
    h = await startHarness({ now: clock.now, env: { RETENTION_DAYS: '30', RETENTION_SWEEP_S: '1' } });
  });
  afterAll(async () => h?.close());

  const exists = async (id: number) => (await h.database.db.select({ id: applications.id }).from(applications).where(eq(applications.id, id))).length === 1;

  it('the scheduled sweep deletes a record, its companions and its notifications 30 days after its end, not before', async () => {
    const visitorPhone = newPhone();
    const companion = newPhone('136');
    const token = await h.bound(newOpenid('ret-v'), visitorPhone);
    const window = clock.window(1, 2);
    const res = await h.request('POST', '/v1/subject', {
      token,
      body: {
        name: '旧访客',
        phone: visitorPhone,
        interviewee: STAFF.zhangwei.name,
        interviewee_phone: STAFF.zhangwei.phone,
        retinues: [{ name: '同行', phone: companion }],
        ...window,
      },
    });
    expect(res.status).toBe(200);
    const id = res.body.data.id as number;
    await settled(h, id);
    const recent = await h.request('POST', '/v1/subject', {
      token,
      body: { name: '新访客', phone: visitorPhone, interviewee: STAFF.zhangwei.name, interviewee_phone: STAFF.zhangwei.phone, ...clock.window(24 * 40, 1) },
    });
    expect(recent.status).toBe(200);

    // One hour short of 30 days after the end: kept by a whole sweep that began after the clock
    // moved (the one asked for second; the first may have begun before).
    clock.advance(window.end_time - clock.nowSeconds() + 30 * DAY - 3600);
    await h.runtime.retention.sweep();
    await h.runtime.retention.sweep();
    expect(await exists(id)).toBe(true);
    clock.advance(7200);
    await h.waitFor(async () => !(await exists(id)), { timeoutMs: 10_000, what: 'the sweep' });
    expect(await h.database.db.select().from(applicationPeople).where(eq(applicationPeople.applicationId, id))).toEqual([]);
    expect(await h.database.db.select().from(notifications).where(eq(notifications.applicationId, id))).toEqual([]);
    // The visit still ahead is kept.
    expect(await exists(recent.body.data.id)).toBe(true);
  });

  it('a backlog is deleted in batches; two sweepers at once (two replicas) delete each record once', async () => {
    const nowS = clock.nowSeconds();
    // 1,234 records that ended 100 days ago, written directly (the API refuses past windows).
    await h.database.db.execute(sql`
      insert into applications (kind, name, phone, proposer, proposer_weixin_user_id, interviewee, interviewee_phone, interviewee_subject_id, start_time, end_time, is_auth, created_at)
      select 'request', '批量', '13912345678', '13912345678', 'wx', '张伟', '13800000001', 1001, ${nowS - 101 * DAY}, ${nowS - 100 * DAY}, 0, ${nowS - 102 * DAY}
      from generate_series(1, 1234)`);
    const opts = { days: 30, sweepIntervalSeconds: 3600, batchSize: 200 };
    const a = startRetention({ database: h.database, logger: createLogger('silent'), now: clock.now, options: opts, autoStart: false });
    const b = startRetention({ database: h.database, logger: createLogger('silent'), now: clock.now, options: opts, autoStart: false });
    const [ra, rb] = await Promise.all([a.sweep(), b.sweep()]);
    // A sweeper that finds the other at work stops; whatever is left goes in the next sweep.
    const rest = await a.sweep();
    expect(ra.applications + rb.applications + rest.applications).toBe(1234);
    const [left] = await h.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(applications)
      .where(sql`end_time < ${nowS - 30 * DAY}`);
    expect(left!.n).toBe(0);
    await a.stop();
    await b.stop();
  });

  it('SMS codes older than two days go too', async () => {
    await h.database.db.insert(smsCodes).values({
      phone: newPhone(),
      codeHash: 'x'.repeat(64),
      createdAt: new Date(clock.now() - 3 * DAY * 1000),
      expiresAt: new Date(clock.now() - 3 * DAY * 1000 + 300_000),
    });
    const s = startRetention({
      database: h.database,
      logger: createLogger('silent'),
      now: clock.now,
      options: { days: 30, sweepIntervalSeconds: 3600, batchSize: 100 },
      autoStart: false,
    });
    expect((await s.sweep()).smsCodes).toBeGreaterThanOrEqual(1);
    await s.stop();
  });
});

describe('export and erasure of one phone number (admin)', () => {
  let h: Harness;
  let admin: string;
  const visitor = newPhone();
  const companion = newPhone('136');
  const bystander = newPhone('135');
  let own: number;
  let asCompanion: number;
  beforeAll(async () => {
    h = await startHarness({ env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password } });
    const login = await h.request('POST', '/v1/admin/session', { body: ADMIN });
    expect(login.status).toBe(200);
    admin = login.body.data.token;
    const vt = await h.bound(newOpenid('pv'), visitor);
    const r1 = await h.request('POST', '/v1/subject', {
      token: vt,
      body: {
        name: '导出人',
        phone: visitor,
        interviewee: STAFF.zhangwei.name,
        interviewee_phone: STAFF.zhangwei.phone,
        retinues: [{ name: '同行人', phone: companion }],
        ...futureWindowFrom(2),
      },
    });
    expect(r1.status).toBe(200);
    own = r1.body.data.id;
    // Someone else's visit, where our phone is only a companion.
    const bt = await h.bound(newOpenid('pb'), bystander);
    const r2 = await h.request('POST', '/v1/subject', {
      token: bt,
      body: {
        name: '别人',
        phone: bystander,
        interviewee: STAFF.lina.name,
        interviewee_phone: STAFF.lina.phone,
        retinues: [{ name: '导出人', phone: visitor }],
        ...futureWindowFrom(3),
      },
    });
    expect(r2.status).toBe(200);
    asCompanion = r2.body.data.id;
    await settled(h, own);
    await settled(h, asCompanion);
    const st = await h.session(newOpenid('ps'));
    expect((await h.request('POST', '/v1/sms/code', { token: st, body: { phone: visitor } })).status).toBe(200);
  });
  afterAll(async () => h?.close());

  it('export: the records about the phone, the entries as a companion, notifications, codes (no hashes)', async () => {
    const res = await h.request('GET', `/v1/privacy/export?phone=${visitor}`, { token: admin });
    expect(res.status).toBe(200);
    const d = res.body.data;
    expect(d.phone).toBe(visitor);
    expect(d.applications.map((a: { id: number }) => a.id)).toEqual([own]);
    expect(d.applications[0].retinues).toEqual([{ name: '同行人', phone: companion }]);
    expect(d.companion_of).toEqual([{ application_id: asCompanion, name: '导出人', created_at: expect.any(Number) }]);
    expect(d.notifications.length).toBeGreaterThanOrEqual(2);
    expect(d.notifications.every((n: { payload: unknown }) => JSON.stringify(n.payload).length > 2)).toBe(true);
    expect(d.sms_codes).toHaveLength(1);
    expect(JSON.stringify(d)).not.toMatch(/code_?hash/i);
    expect(d.staff).toBeNull();
    // A staff member's phone shows what Koala told us.
    await h.bound(newOpenid('pst'), STAFF.zhangwei.phone).then((t) => h.request('GET', '/v1/subject/binding', { token: t }));
    const staff = await h.request('GET', `/v1/privacy/export?phone=${STAFF.zhangwei.phone}`, { token: admin });
    expect(staff.body.data.staff).toMatchObject({ name: STAFF.zhangwei.name });
  });

  it('only an admin: a phone session, a device or nobody get 401; a bad phone is a 400', async () => {
    const phoneSession = await h.bound(newOpenid('px'), visitor);
    for (const token of [phoneSession, undefined]) {
      expect((await h.request('GET', `/v1/privacy/export?phone=${visitor}`, { token })).status).toBe(401);
      expect((await h.request('POST', '/v1/privacy/erase', { token, body: { phone: visitor } })).status).toBe(401);
    }
    const bad = await h.request('GET', '/v1/privacy/export?phone=12345', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('VALIDATION_FAILED');
  });

  it('erase: everything about the phone goes, other people keep their visit (minus the companion entry), the audit log says so masked', async () => {
    const res = await h.request('POST', '/v1/privacy/erase', { token: admin, body: { phone: `+86 ${visitor}` } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ phone: visitor, applications_deleted: 1, companion_entries_deleted: 1, sms_codes_deleted: 1 });
    expect(res.body.data.not_held_here.join(' ')).toMatch(/WeChat/);
    const after = await h.request('GET', `/v1/privacy/export?phone=${visitor}`, { token: admin });
    expect(after.body.data).toMatchObject({ applications: [], companion_of: [], notifications: [], sms_codes: [] });
    // The bystander's record stays, without the erased companion.
    const bt = await h.bound(newOpenid('pb2'), bystander);
    const mine = await h.request('GET', '/v1/auth/records', { token: bt });
    const rec = mine.body.data.find((r: { id: number }) => r.id === asCompanion);
    expect(rec.retinues).toEqual([]);
    const anyLeft = await h.database.db.execute(
      sql`select 1 from applications where phone = ${visitor} or proposer = ${visitor} union all select 1 from application_people where phone = ${visitor} union all select 1 from notifications where phone = ${visitor} union all select 1 from idempotency_keys where response::text like ${`%${visitor}%`}`,
    );
    expect((anyLeft as unknown as { rows: unknown[] }).rows).toEqual([]);
    const audit = await h.database.db.execute(sql`select target_id from audit_log where action like 'privacy.%'`);
    const targets = (audit as unknown as { rows: Array<{ target_id: string }> }).rows.map((r) => r.target_id);
    expect(targets).toContain(`${visitor.slice(0, 3)}****${visitor.slice(7)}`);
    expect(targets.join()).not.toContain(visitor);
  });

  it('the service functions work without HTTP too (export of an unknown phone is empty)', async () => {
    const storage = createLocalStorage({ dir: join(tmpdir(), 'laifang-privacy-unused'), publicBaseUrl: 'http://x' });
    const privacy = createPrivacy({ db: h.database.db, audit: createAudit({ db: h.database.db, now: Date.now }), storage });
    const by = { kind: 'system' as const, id: 'privacy-test' };
    const empty = await privacy.exportPhone(by, newPhone());
    expect(empty).toMatchObject({ applications: [], companionOf: [], notifications: [], smsCodes: [], staff: null });
    await expect(privacy.erasePhone(by, 'not a phone')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

function futureWindowFrom(hours: number) {
  const start = Math.floor(Date.now() / 1000) + hours * 3600;
  return { start_time: start, end_time: start + 3600 };
}

describe('avatars: unguessable keys; private buckets get short-lived signed URLs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('the landed key is a keyed hash: neither the sha256 of the picture nor of its Koala URL', async () => {
    const token = await h.bound(newOpenid('av'), STAFF.zhangwei.phone);
    const res = await h.request('GET', '/v1/subject/binding', { token });
    expect(res.status).toBe(200);
    const avatar = res.body.data.avatar as string;
    expect(avatar).toMatch(/^http:\/\/laifang\.test\/files\/avatars\/[0-9a-f]{2}\/[0-9a-f]{64}\.png$/);
    const [row] = await h.database.db.select().from(landedFiles);
    const picture = await h.runtime.app.inject({ method: 'GET', url: avatar.replace('http://laifang.test', '') });
    expect(picture.statusCode).toBe(200);
    const hashOfPicture = createHash('sha256').update(picture.rawPayload).digest('hex');
    const hashOfUrl = createHash('sha256').update(row!.sourceUrl).digest('hex');
    expect(avatar).not.toContain(hashOfPicture);
    expect(avatar).not.toContain(hashOfUrl);
  });

  it('S3_PRIVATE: the URL handed out is presigned with the configured lifetime and works; the object is not publicly cached', async () => {
    const S3rver = createRequire(import.meta.url)('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> };
    const dir = await mkdtemp(join(tmpdir(), 'laifang-s3-private-'));
    const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'private', configs: [] }] });
    const { port } = await server.run();
    try {
      const endpoint = `http://127.0.0.1:${port}`;
      const s3 = createS3Storage({
        endpoint,
        region: 'us-east-1',
        bucket: 'private',
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        forcePathStyle: true,
        private: true,
        signedUrlTtlSeconds: 300,
        timeoutMs: 2000,
      });
      const key = 'avatars/ab/abcdef.png';
      await s3.put(key, Buffer.from('png-bytes'), 'image/png');
      const url = new URL(await s3.browserUrl(key));
      expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toMatch(/^private/);
      // A public bucket keeps plain URLs.
      const open = createS3Storage({
        endpoint,
        region: 'us-east-1',
        bucket: 'private',
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        forcePathStyle: true,
        timeoutMs: 2000,
      });
      expect(await open.browserUrl(key)).toBe(`${endpoint}/private/${key}`);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('privacy configuration', () => {
  const s3 = { NODE_ENV: 'test', STORAGE_DRIVER: 's3', S3_REGION: 'oss-cn-hangzhou', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's' };
  it('RETENTION_DAYS defaults to 90; S3_PRIVATE and S3_SIGNED_URL_TTL_S are read and checked', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).retention).toEqual({ days: 90, sweepIntervalSeconds: 3600, batchSize: 500 });
    expect(loadConfig({ NODE_ENV: 'test', RETENTION_DAYS: '30' }).retention.days).toBe(30);
    expect(() => loadConfig({ NODE_ENV: 'test', RETENTION_DAYS: '0' })).toThrow(ConfigError);
    expect(loadConfig(s3).storage).toMatchObject({ driver: 's3', private: false, signedUrlTtlSeconds: 900 });
    expect(loadConfig({ ...s3, S3_PRIVATE: 'true', S3_SIGNED_URL_TTL_S: '120' }).storage).toMatchObject({ private: true, signedUrlTtlSeconds: 120 });
    expect(() => loadConfig({ ...s3, S3_PRIVATE: 'maybe' })).toThrow(ConfigError);
  });
});
