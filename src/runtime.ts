import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { createKoalaClient } from './adapters/koala/client.js';
import type { KoalaPort } from './adapters/koala/port.js';
import type { AliyunSmsClientOptions } from './adapters/sms/client.js';
import type { SmsPort } from './adapters/sms/port.js';
import { createLocalStorage } from './adapters/storage/local.js';
import type { StoragePort } from './adapters/storage/port.js';
import { createWechatCloudClient } from './adapters/wechat-cloud/client.js';
import type { WechatCloudPort } from './adapters/wechat-cloud/port.js';
import { createWechatOAuthClient } from './adapters/wechat-oauth/client.js';
import type { WechatOAuthPort } from './adapters/wechat-oauth/port.js';
import { buildApp, type AppDeps } from './app.js';
import { randomSecret, type Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { appState } from './db/schema.js';
import { startNotifyWorker, type NotifyWorker } from './modules/notifications/worker.js';
import { ensureKoalaSyncQueue, startKoalaSync } from './modules/visits/koala-sync.js';
import { startVisitSweep } from './modules/visits/sweep.js';
import { startRetention } from './modules/privacy/retention.js';
import { startUpkeep } from './db/upkeep.js';
import { startBackupSocket } from './db/online-backup.js';
import { startQueue, type Queue } from './db/queue.js';
import { WebLoad } from './http/load.js';
import { createLogger, type Logger } from './log.js';
import { PageCache, RECORDS_CHANNEL } from './modules/applications/page-cache.js';
import { createApplications } from './modules/applications/service.js';
import { createAdminAccounts, type AdminAccounts } from './modules/admin/service.js';
import { createAdminTokens } from './modules/admin/tokens.js';
import { createDevices, type Devices } from './modules/devices/service.js';
import { createSecretBox } from './modules/settings/secret-box.js';
import { createServerSettings, livePort } from './modules/settings/servers.js';
import { createTemplateSettings } from './modules/settings/templates.js';
import { createAudit } from './modules/audit/service.js';
import { createPassKeys } from './modules/visits/passes.js';
import { createVisits } from './modules/visits/service.js';
import { createBindings } from './modules/binding/service.js';
import { createIdentity } from './modules/identity/service.js';
import { createRedeemedCodes } from './modules/session/redeemed-codes.js';
import { createSessionTokens } from './modules/session/tokens.js';
import { createSmsCodes } from './modules/sms-codes/service.js';
import { guardSms } from './modules/notifications/sms-caps.js';
import { createAvatars } from './modules/staff/avatars.js';
import { createStaffDirectory } from './modules/staff/directory.js';
import { createPurposes } from './modules/staff/purposes.js';
import { startSimulators, type Simulators } from './simulators.js';

export interface RuntimeOptions {
  logger?: Logger;
  /** An already opened (e.g. cloned test) database; otherwise config.databaseUrl is opened. */
  database?: Database;
  now?: () => number;
  /** Simulated mode: seed demo WeChat bindings (npm start does; tests start empty). */
  seedDemoBindings?: boolean;
  /** See AppDeps.serverFactory. */
  serverFactory?: AppDeps['serverFactory'];
}

export interface Runtime {
  app: FastifyInstance;
  config: Config;
  database: Database;
  logger: Logger;
  simulators: Simulators | null;
  queue: Queue;
  /** The notification sender, or null with NOTIFY_SEND=false (another process sends). */
  worker: NotifyWorker | null;
  /** Requests a second this process answers (the worker gives way while there are many). */
  load: WebLoad;
  /** Front-desk devices and admin accounts (tests register devices and admins through these). */
  devices: Devices;
  admins: AdminAccounts;
  /** The record-list page cache (tests and benchmarks read its counters). */
  pages: PageCache;
  close(): Promise<void>;
}

/** Simulated mode only (`npm start` with no integration configured): printed in the start banner. */
export const DEMO_ADMIN = { username: 'admin', password: 'laifang-demo-admin' } as const;

interface Ports {
  koala: KoalaPort;
  cloud: WechatCloudPort;
  oauth: WechatOAuthPort;
  sms: SmsPort;
}

/** Builds everything from the configuration: database → adapters → services → app. */
export async function createRuntime(config: Config, opts: RuntimeOptions = {}): Promise<Runtime> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const now = opts.now ?? Date.now;
  const closers: Array<() => Promise<void>> = [];
  let closing = false;
  const closeAll = async () => {
    closing = true;
    for (const c of closers.reverse()) await c().catch((err: unknown) => logger.warn({ err }, 'shutdown step failed'));
  };

  try {
    let ready = false;
    const database = opts.database ?? (await openDatabase(config.databaseUrl));
    closers.push(() => database.close());
    await database.migrate();
    // `npm run backup` of the embedded database asks this process for a copy (ADR 0008).
    const backups = await startBackupSocket({ database, databaseUrl: config.databaseUrl, logger });
    closers.push(() => backups.close());

    const secret = config.sessionSecret ?? (await storedSecret(database, now));
    let simulators: Simulators | null = null;
    if (config.simulated) {
      simulators = await startSimulators({ verificationTemplate: config.templates.sms.verification_code, seedDemoBindings: opts.seedDemoBindings ?? false });
      closers.push(() => simulators!.close());
    }
    const ports = createPorts(config, simulators, logger);
    // Koala and cloud connections an admin may change at run time (PUT /v1/config/servers): every
    // call uses the settings in force (this replica at once, the others within 5 s).
    const servers = createServerSettings({
      db: database.db,
      box: createSecretBox(secret),
      logger,
      now,
      defaults: simulators
        ? { koala: { url: simulators.koala.url, username: simulators.koala.username, password: simulators.koala.password }, cloudUrl: simulators.cloud.url }
        : { koala: { url: config.koala!.url, username: config.koala!.username, password: config.koala!.password }, cloudUrl: config.wechatCloud!.url },
    });
    await servers.start(5000);
    const templateSettings = createTemplateSettings({ db: database.db, defaults: config.templates, now });
    closers.push(async () => servers.stop());
    ports.koala = livePort(
      () => JSON.stringify(servers.current().koala),
      () => {
        const c = servers.current().koala;
        return createKoalaClient({
          baseUrl: c.url,
          username: c.username,
          password: c.password,
          timeoutMs: config.koala?.timeoutMs ?? 5000,
          logger: logger.child({ upstream: 'koala' }),
        });
      },
    );
    ports.cloud = livePort(
      () => servers.current().cloudUrl,
      () =>
        createWechatCloudClient({
          baseUrl: servers.current().cloudUrl,
          timeoutMs: config.wechatCloud?.timeoutMs ?? 5000,
          logger: logger.child({ upstream: 'wechat-cloud' }),
        }),
    );
    // Every SMS (codes and notifications) passes the per-phone and global caps (issue 6).
    const sms = guardSms({ database, sms: ports.sms, caps: config.smsCaps, secret, now });
    const storage = await createStorage(config);

    // Queue set-up (pg-boss's schema, the Koala queue, the old notification queue's removal) one
    // process at a time: it is DDL.
    const queue = await database.serialized(async () => {
      const q = await startQueue(database.executor, { maintenanceIntervalSeconds: config.notify.maintenanceIntervalSeconds }, logger);
      await ensureKoalaSyncQueue(q.boss, { retryDelaySeconds: config.notify.retryDelaySeconds, expireInSeconds: config.notify.expireInSeconds });
      return q;
    });
    closers.push(() => queue.stop());
    // Requests a second this process answers (counted by the app): the worker gives way while there are many.
    const load = new WebLoad();
    // NOTIFY_SEND=false: a web-only replica; another process claims from the same outbox.
    const worker = config.notify.send
      ? await startNotifyWorker({
          database,
          sms,
          wechat: ports.cloud,
          logger,
          now,
          batchSize: config.notify.batchSize,
          pollingIntervalSeconds: config.notify.pollingIntervalSeconds,
          leaseSeconds: config.notify.expireInSeconds,
          retryLimit: config.notify.retryLimit,
          retryDelaySeconds: config.notify.retryDelaySeconds,
          maxRetryDelaySeconds: config.notify.maxRetryDelaySeconds,
          giveWay: config.notify.yieldAt > 0 ? { busy: () => load.perSecond() >= config.notify.yieldAt, ratePerSecond: config.notify.yieldRate } : undefined,
        })
      : null;
    if (worker) closers.push(() => worker.stop());
    const retention = startRetention({ database, logger, now, options: config.retention });
    closers.push(() => retention.stop());
    // VACUUM of the outbox, queue, counter and application tables (PGlite has no autovacuum; PostgreSQL's comes too late for them).
    const upkeep = startUpkeep({ database, logger, hotSeconds: config.upkeepSeconds });
    closers.push(() => upkeep.stop());

    const db = database.db;
    const tokens = createSessionTokens(secret, config.sessionTtlSeconds);
    const redeemedCodes = createRedeemedCodes({ db, secret, now });
    const identity = createIdentity({ cloud: ports.cloud, now });
    const staff = createStaffDirectory({
      db,
      koala: ports.koala,
      logger,
      now,
      cacheSeconds: config.koalaCacheSeconds,
      refreshSeconds: config.koalaStaffRefreshSeconds,
    });
    const avatars = createAvatars({ db, koala: ports.koala, storage, logger, now, secret });
    const purposes = createPurposes({ db, koala: ports.koala, logger, now, cacheSeconds: config.koalaCacheSeconds });
    const smsCodes = createSmsCodes({ db, sms, template: async () => (await templateSettings.current()).sms.verification_code, secret, logger, now });
    const bindings = createBindings({ cloud: ports.cloud, identity, staff, avatars, smsCodes, verifyPhone: config.bindVerifyPhone });
    const audit = createAudit({ db, now });
    // Record-list pages, invalidated by the database's notifications (migration 0003): served
    // only while this replica is listening.
    const pages = new PageCache({ maxBytes: config.recordsCache.maxBytes, ttlMs: config.recordsCache.ttlSeconds * 1000, now });
    if (config.recordsCache.maxBytes > 0) {
      const listener = await database.listen(
        RECORDS_CHANNEL,
        (payload) => pages.onNotification(payload),
        (on) => {
          pages.setEnabled(on);
          if (!on && !closing) logger.warn('records cache off: the database notification connection is down');
        },
      );
      closers.push(() => listener.close());
    }
    const applications = createApplications({
      pages,
      database,
      staff,
      purposes,
      templates: config.templates,
      templateSource: (tx) => templateSettings.current(tx),
      audit,
      recordsUrl: `${config.publicUrl}/h5/#/records`,
      applyPerHour: config.applyPerHour,
      now,
    });

    // Front desk (issue 3): Koala visitors written and deleted by a job, sign-in, turnstile, check-out.
    const koalaSync = await startKoalaSync({
      database,
      queue,
      koala: ports.koala,
      logger,
      now,
      pollingIntervalSeconds: config.notify.pollingIntervalSeconds,
      retryDelaySeconds: config.notify.retryDelaySeconds,
      maxRetryDelaySeconds: config.notify.maxRetryDelaySeconds,
      createRetryLimit: config.notify.retryLimit,
      leaseSeconds: Math.ceil((config.koala?.timeoutMs ?? 5000) / 1000) * 2 + 5,
      expireInSeconds: config.notify.expireInSeconds,
    });
    closers.push(() => koalaSync.stop());
    const visits = createVisits({
      database,
      koalaSync,
      audit,
      keys: createPassKeys(secret),
      logger,
      now,
      templates: (tx) => templateSettings.current(tx),
      publicUrl: config.publicUrl,
      signinLeadMinutes: config.visits.signinLeadMinutes,
    });
    const visitSweep = startVisitSweep({ sweep: () => visits.sweepEnded(), intervalSeconds: config.visits.sweepSeconds, logger });
    closers.push(() => visitSweep.stop());

    // Admin API and devices (issue 3).
    const devices = createDevices({ db, now, database });
    const admins = createAdminAccounts({ db, tokens: createAdminTokens(secret, 12 * 3600), audit, now });
    if (config.firstAdmin && (await admins.ensureFirst(config.firstAdmin)))
      logger.info({ username: config.firstAdmin.username }, 'created the first admin from ADMIN_USERNAME');
    if (config.simulated && !config.firstAdmin && opts.seedDemoBindings && (await admins.ensureFirst(DEMO_ADMIN)))
      logger.info({ username: DEMO_ADMIN.username }, 'created the demo admin (simulated mode)');
    const adminApi = { devices, audit, accounts: admins, servers, templates: templateSettings };

    const app = await buildApp({
      load,
      config,
      logger,
      database,
      tokens,
      redeemedCodes,
      oauth: ports.oauth,
      identity,
      bindings,
      smsCodes,
      applications,
      visits,
      purposes,
      now,
      isReady: () => ready,
      serverFactory: opts.serverFactory,
      adminApi,
    });
    closers.push(() => app.close());
    await app.ready();
    ready = true;

    return { app, config, database, logger, simulators, queue, worker, load, devices, admins, pages, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function createPorts(config: Config, sims: Simulators | null, logger: Logger): Ports {
  const timeoutMs = 5000;
  const koala = sims ? { url: sims.koala.url, username: sims.koala.username, password: sims.koala.password, timeoutMs } : config.koala!;
  const cloud = sims ? { url: sims.cloud.url, timeoutMs } : config.wechatCloud!;
  const oauth = sims ? { apiUrl: sims.oauth.url, appId: sims.oauth.appId, appSecret: sims.oauth.appSecret, timeoutMs } : config.wechatOAuth!;
  const sms = sims
    ? { endpoint: sims.sms.url, accessKeyId: sims.sms.accessKeyId, accessKeySecret: sims.sms.accessKeySecret, signName: '来访', timeoutMs }
    : config.sms!;
  return {
    koala: createKoalaClient({
      baseUrl: koala.url,
      username: koala.username,
      password: koala.password,
      timeoutMs: koala.timeoutMs,
      logger: logger.child({ upstream: 'koala' }),
    }),
    cloud: createWechatCloudClient({ baseUrl: cloud.url, timeoutMs: cloud.timeoutMs, logger: logger.child({ upstream: 'wechat-cloud' }) }),
    oauth: createWechatOAuthClient({
      apiUrl: oauth.apiUrl,
      appId: oauth.appId,
      appSecret: oauth.appSecret,
      timeoutMs: oauth.timeoutMs,
      logger: logger.child({ upstream: 'wechat-oauth' }),
    }),
    sms: lazySms({ ...sms, logger: logger.child({ upstream: 'sms' }) }),
  };
}

/**
 * The Aliyun SDK takes ~0.5 s to import (a third of a cold start): it is loaded by the first
 * SMS, not at start (issue 5).
 */
function lazySms(opts: AliyunSmsClientOptions): SmsPort {
  let client: Promise<SmsPort> | null = null;
  return {
    async send(input) {
      client ??= import('./adapters/sms/client.js').then(
        (m) => m.createAliyunSmsClient(opts),
        (err: unknown) => {
          client = null; // the next SMS tries again
          throw err;
        },
      );
      return (await client).send(input);
    },
  };
}

/** The S3 SDK (~0.25 s to import) is loaded only when the storage is S3. */
async function createStorage(config: Config): Promise<StoragePort> {
  const s = config.storage;
  if (s.driver === 'local') return createLocalStorage({ dir: s.dir, publicBaseUrl: config.publicUrl });
  const { createS3Storage } = await import('./adapters/storage/s3.js');
  return createS3Storage({
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    publicUrl: s.publicUrl,
    forcePathStyle: s.forcePathStyle,
    private: s.private,
    signedUrlTtlSeconds: s.signedUrlTtlSeconds,
  });
}

/** Outside production a secret is generated once per data directory and kept in the database. */
async function storedSecret(database: Database, now: () => number): Promise<string> {
  const key = 'session_secret';
  await database.db
    .insert(appState)
    .values({ key, value: { secret: randomSecret() }, updatedAt: new Date(now()) })
    .onConflictDoNothing();
  const [row] = await database.db.select().from(appState).where(eq(appState.key, key)).limit(1);
  return (row!.value as { secret: string }).secret;
}
