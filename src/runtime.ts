import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { createKoalaClient } from './adapters/koala/client.js';
import type { KoalaPort } from './adapters/koala/port.js';
import { createAliyunSmsClient } from './adapters/sms/client.js';
import type { SmsPort } from './adapters/sms/port.js';
import { createLocalStorage } from './adapters/storage/local.js';
import type { StoragePort } from './adapters/storage/port.js';
import { createS3Storage } from './adapters/storage/s3.js';
import { createWechatCloudClient } from './adapters/wechat-cloud/client.js';
import type { WechatCloudPort } from './adapters/wechat-cloud/port.js';
import { createWechatOAuthClient } from './adapters/wechat-oauth/client.js';
import type { WechatOAuthPort } from './adapters/wechat-oauth/port.js';
import { buildApp, type AppDeps } from './app.js';
import { randomSecret, type Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { appState } from './db/schema.js';
import { startNotifyWorker, type NotifyWorker } from './jobs/notify-worker.js';
import { startQueue, type Queue } from './jobs/queue.js';
import { createLogger, type Logger } from './log.js';
import { createApplications } from './modules/applications/service.js';
import { createBindings } from './modules/binding/service.js';
import { createIdentity } from './modules/identity/service.js';
import { createRedeemedCodes } from './modules/session/redeemed-codes.js';
import { createSessionTokens } from './modules/session/tokens.js';
import { createSmsCodes } from './modules/sms-codes/service.js';
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
  worker: NotifyWorker;
  close(): Promise<void>;
}

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
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => logger.warn({ err }, 'shutdown step failed'));
  };

  try {
    let ready = false;
    const database = opts.database ?? (await openDatabase(config.databaseUrl));
    closers.push(() => database.close());
    await database.migrate();

    const secret = config.sessionSecret ?? (await storedSecret(database, now));
    let simulators: Simulators | null = null;
    if (config.simulated) {
      simulators = await startSimulators({ verificationTemplate: config.templates.sms.verification_code, seedDemoBindings: opts.seedDemoBindings ?? false });
      closers.push(() => simulators!.close());
    }
    const ports = createPorts(config, simulators, logger);
    const storage = createStorage(config);

    const queue = await startQueue(
      database.executor,
      {
        // Only for a job whose worker died or whose handling crashed: a few quick tries.
        retryLimit: 5,
        retryDelaySeconds: config.notify.retryDelaySeconds,
        expireInSeconds: config.notify.expireInSeconds,
        maintenanceIntervalSeconds: config.notify.maintenanceIntervalSeconds,
      },
      logger,
    );
    closers.push(() => queue.stop());
    const worker = await startNotifyWorker({
      database,
      queue,
      sms: ports.sms,
      wechat: ports.cloud,
      logger,
      now,
      batchSize: config.notify.batchSize,
      pollingIntervalSeconds: config.notify.pollingIntervalSeconds,
      retryLimit: config.notify.retryLimit,
      retryDelaySeconds: config.notify.retryDelaySeconds,
      maxRetryDelaySeconds: config.notify.maxRetryDelaySeconds,
    });
    closers.push(() => worker.stop());

    const db = database.db;
    const tokens = createSessionTokens(secret, config.sessionTtlSeconds);
    const redeemedCodes = createRedeemedCodes({ db, secret, now });
    const identity = createIdentity({ cloud: ports.cloud, now });
    const staff = createStaffDirectory({ db, koala: ports.koala, logger, now, cacheSeconds: config.koalaCacheSeconds, refreshSeconds: config.koalaStaffRefreshSeconds });
    const avatars = createAvatars({ db, koala: ports.koala, storage, logger, now });
    const purposes = createPurposes({ db, koala: ports.koala, logger, now, cacheSeconds: config.koalaCacheSeconds });
    const smsCodes = createSmsCodes({ db, sms: ports.sms, template: config.templates.sms.verification_code, secret, logger, now });
    const bindings = createBindings({ cloud: ports.cloud, identity, staff, avatars, smsCodes, verifyPhone: config.bindVerifyPhone });
    const applications = createApplications({
      database,
      queue,
      staff,
      purposes,
      templates: config.templates,
      recordsUrl: `${config.publicUrl}/h5/#/records`,
      applyPerHour: config.applyPerHour,
      now,
    });

    const app = await buildApp({ config, logger, database, tokens, redeemedCodes, oauth: ports.oauth, identity, bindings, smsCodes, applications, purposes, now, isReady: () => ready, serverFactory: opts.serverFactory });
    closers.push(() => app.close());
    await app.ready();
    ready = true;

    return { app, config, database, logger, simulators, queue, worker, close: closeAll };
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
    koala: createKoalaClient({ baseUrl: koala.url, username: koala.username, password: koala.password, timeoutMs: koala.timeoutMs, logger: logger.child({ upstream: 'koala' }) }),
    cloud: createWechatCloudClient({ baseUrl: cloud.url, timeoutMs: cloud.timeoutMs, logger: logger.child({ upstream: 'wechat-cloud' }) }),
    oauth: createWechatOAuthClient({ apiUrl: oauth.apiUrl, appId: oauth.appId, appSecret: oauth.appSecret, timeoutMs: oauth.timeoutMs, logger: logger.child({ upstream: 'wechat-oauth' }) }),
    sms: createAliyunSmsClient({ ...sms, logger: logger.child({ upstream: 'sms' }) }),
  };
}

function createStorage(config: Config): StoragePort {
  const s = config.storage;
  if (s.driver === 'local') return createLocalStorage({ dir: s.dir, publicBaseUrl: config.publicUrl });
  return createS3Storage({ endpoint: s.endpoint, region: s.region, bucket: s.bucket, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, publicUrl: s.publicUrl, forcePathStyle: s.forcePathStyle });
}

/** Outside production a secret is generated once per data directory and kept in the database. */
async function storedSecret(database: Database, now: () => number): Promise<string> {
  const key = 'session_secret';
  await database.db.insert(appState).values({ key, value: { secret: randomSecret() }, updatedAt: new Date(now()) }).onConflictDoNothing();
  const [row] = await database.db.select().from(appState).where(eq(appState.key, key)).limit(1);
  return (row!.value as { secret: string }).secret;
}
