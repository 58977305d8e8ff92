import type { HttpObserver } from '../adapters/http.js';
import { createKoalaClient } from '../adapters/koala/client.js';
import type { KoalaPort } from '../adapters/koala/port.js';
import type { AliyunSmsClientOptions } from '../adapters/sms/client.js';
import type { SmsPort } from '../adapters/sms/port.js';
import { createLocalStorage } from '../adapters/storage/local.js';
import type { StoragePort } from '../adapters/storage/port.js';
import { createWechatCloudClient } from '../adapters/wechat-cloud/client.js';
import type { WechatCloudPort } from '../adapters/wechat-cloud/port.js';
import { createWechatOAuthClient } from '../adapters/wechat-oauth/client.js';
import type { WechatOAuthPort } from '../adapters/wechat-oauth/port.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../log.js';
import { codesPerHour, guardSms } from '../modules/notifications/sms-caps.js';
import { createSecretBox } from '../modules/settings/secret-box.js';
import { createServerSettings, livePort, type ServerSettings } from '../modules/settings/servers.js';
import { createTemplateSettings, type TemplateSettings } from '../modules/settings/templates.js';
import { startSimulators, type Simulators } from '../simulators.js';
import type { Step } from './steps.js';

export interface Ports {
  koala: KoalaPort;
  cloud: WechatCloudPort;
  oauth: WechatOAuthPort;
  /** Every SMS (codes and notifications) passes the per-phone and global caps. */
  sms: SmsPort;
  storage: StoragePort;
  /** The Koala and cloud connections in force (PUT /v1/config/servers) and the template ids. */
  servers: ServerSettings;
  templates: TemplateSettings;
}

/** Simulated mode only: the outside systems, simulated in this process. */
export async function simulatorsStep(step: Step, seedDemoBindings: boolean): Promise<Simulators | null> {
  if (!step.config.simulated) return null;
  const simulators = await startSimulators({ verificationTemplate: step.config.templates.sms.verification_code, seedDemoBindings });
  step.closers.add(() => simulators.close());
  return simulators;
}

/** The ports to the outside systems, the real clients or the simulators' behind each. */
export async function portsStep(step: Step, sims: Simulators | null, database: Database, secret: string): Promise<Ports> {
  const { config, logger, now } = step;
  const observer = step.metrics?.upstream;
  const fixed = fixedPorts(config, sims, logger, observer);
  // Koala and cloud connections an admin may change at run time (PUT /v1/config/servers): every
  // call uses the settings in force (this replica at once, the others within 5 s).
  const servers = createServerSettings({
    db: database.db,
    box: createSecretBox(secret),
    logger,
    now,
    defaults: sims
      ? { koala: { url: sims.koala.url, username: sims.koala.username, password: sims.koala.password }, cloudUrl: sims.cloud.url }
      : { koala: { url: config.koala!.url, username: config.koala!.username, password: config.koala!.password }, cloudUrl: config.wechatCloud!.url },
  });
  await servers.start(5000);
  const templates = createTemplateSettings({ db: database.db, defaults: config.templates, now });
  step.closers.add(async () => servers.stop());
  const koala = livePort(
    () => JSON.stringify(servers.current().koala),
    () => {
      const c = servers.current().koala;
      const timeoutMs = config.koala?.timeoutMs ?? 5000;
      return createKoalaClient({
        baseUrl: c.url,
        username: c.username,
        password: c.password,
        timeoutMs,
        logger: logger.child({ upstream: 'koala' }),
        observer,
      });
    },
  );
  const cloud = livePort(
    () => servers.current().cloudUrl,
    () =>
      createWechatCloudClient({
        baseUrl: servers.current().cloudUrl,
        timeoutMs: config.wechatCloud?.timeoutMs ?? 5000,
        logger: logger.child({ upstream: 'wechat-cloud' }),
        observer,
      }),
  );
  const codes = codesPerHour(config.smsCaps, config.smsCodes.globalSharePercent);
  const sms = guardSms({ database, sms: fixed.sms, caps: config.smsCaps, codesPerHour: codes, secret, now });
  return { koala, cloud, oauth: fixed.oauth, sms, storage: await createStorage(config), servers, templates };
}

/** WeChat OAuth and Aliyun SMS, configured once at start. */
function fixedPorts(config: Config, sims: Simulators | null, logger: Logger, observer?: HttpObserver): { oauth: WechatOAuthPort; sms: SmsPort } {
  const timeoutMs = 5000;
  const oauth = sims ? { apiUrl: sims.oauth.url, appId: sims.oauth.appId, appSecret: sims.oauth.appSecret, timeoutMs } : config.wechatOAuth!;
  const sms = sims
    ? { endpoint: sims.sms.url, accessKeyId: sims.sms.accessKeyId, accessKeySecret: sims.sms.accessKeySecret, signName: '来访', timeoutMs }
    : config.sms!;
  return {
    oauth: createWechatOAuthClient({
      apiUrl: oauth.apiUrl,
      appId: oauth.appId,
      appSecret: oauth.appSecret,
      timeoutMs: oauth.timeoutMs,
      logger: logger.child({ upstream: 'wechat-oauth' }),
      observer,
    }),
    sms: lazySms({ ...sms, logger: logger.child({ upstream: 'sms' }) }),
  };
}

/** The Aliyun SDK takes ~0.5 s to import (a third of a cold start): it is loaded by the first SMS, not at start. */
function lazySms(opts: AliyunSmsClientOptions): SmsPort {
  let client: Promise<SmsPort> | null = null;
  const load = (): Promise<SmsPort> =>
    (client ??= import('../adapters/sms/client.js').then(
      (m) => m.createAliyunSmsClient(opts),
      (err: unknown) => {
        client = null; // the next SMS tries again
        throw err;
      },
    ));
  return {
    send: async (input) => (await load()).send(input),
    wasSent: async (query) => {
      const loaded = await load();
      return loaded.wasSent ? loaded.wasSent(query) : false;
    },
  };
}

/** The S3 SDK (~0.25 s to import) is loaded only when the storage is S3. */
async function createStorage(config: Config): Promise<StoragePort> {
  const s = config.storage;
  if (s.driver === 'local') return createLocalStorage({ dir: s.dir, publicBaseUrl: config.publicUrl });
  const { createS3Storage } = await import('../adapters/storage/s3.js');
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
