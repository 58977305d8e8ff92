import { TEMPLATE_NAMES } from './config.js';
import { startKoalaSimulator, type KoalaSimulator } from './adapters/koala/simulator.js';
import { startAliyunSmsSimulator, type AliyunSmsSimulator } from './adapters/sms/simulator.js';
import { startWechatCloudSimulator, type WechatCloudSimulator } from './adapters/wechat-cloud/simulator.js';
import { startWechatOAuthSimulator, type WechatOAuthSimulator } from './adapters/wechat-oauth/simulator.js';

export interface Simulators {
  koala: KoalaSimulator;
  cloud: WechatCloudSimulator;
  oauth: WechatOAuthSimulator;
  sms: AliyunSmsSimulator;
  close(): Promise<void>;
}

/** WeChat users that simulated mode starts with already bound, so the demo needs no typing. */
export const DEMO_WECHAT_USERS = [
  { weixinUserId: 'demo-staff-zhangwei', phone: '13800000001', who: '张伟 (员工, 研发部)' },
  { weixinUserId: 'demo-staff-lina', phone: '13800000002', who: '李娜 (员工, 行政部)' },
  { weixinUserId: 'demo-visitor-wangwu', phone: '13900000001', who: '王五 (访客)' },
  { weixinUserId: 'demo-visitor-zhaoliu', phone: '13900000002', who: '赵六 (访客)' },
] as const;

/** Every outside system, simulated in this process on free 127.0.0.1 ports. */
export async function startSimulators(opts: { verificationTemplate: string; seedDemoBindings: boolean }): Promise<Simulators> {
  const [koala, cloud, oauth, sms] = await Promise.all([
    startKoalaSimulator(),
    startWechatCloudSimulator(),
    startWechatOAuthSimulator(),
    startAliyunSmsSimulator({ verificationTemplates: [opts.verificationTemplate] }),
  ]);
  if (opts.seedDemoBindings) for (const u of DEMO_WECHAT_USERS) cloud.bind(u.weixinUserId, u.phone);
  return {
    koala,
    cloud,
    oauth,
    sms,
    async close() {
      await Promise.all([koala.close(), cloud.close(), oauth.close(), sms.close()]);
    },
  };
}

/** Where running simulators (or anything speaking their protocols) can be reached. */
export interface SimulatorEndpoints {
  koala: { url: string; username: string; password: string };
  cloud: { url: string };
  oauth: { url: string; appId: string; appSecret: string };
  sms: { url: string; accessKeyId: string; accessKeySecret: string };
}

/**
 * The environment that configures the service against these endpoints exactly as a
 * deployment is configured against the real systems (not simulated mode). Template ids are
 * `SMS_TPL_<EVENT>` / `WX_TPL_<EVENT>`, so a test can tell which template a message used.
 */
export function integrationEnv(ep: SimulatorEndpoints): Record<string, string> {
  return {
    KOALA_URL: ep.koala.url,
    KOALA_USERNAME: ep.koala.username,
    KOALA_PASSWORD: ep.koala.password,
    WECHAT_CLOUD_URL: ep.cloud.url,
    WECHAT_APP_ID: ep.oauth.appId,
    WECHAT_APP_SECRET: ep.oauth.appSecret,
    WECHAT_API_URL: ep.oauth.url,
    ALIYUN_SMS_ENDPOINT: ep.sms.url,
    ALIYUN_ACCESS_KEY_ID: ep.sms.accessKeyId,
    ALIYUN_ACCESS_KEY_SECRET: ep.sms.accessKeySecret,
    SMS_SIGN_NAME: '来访',
    ...Object.fromEntries(
      TEMPLATE_NAMES.flatMap((n) => [
        [`SMS_TPL_${n.toUpperCase()}`, `SMS_TPL_${n.toUpperCase()}`],
        [`WECHAT_TPL_${n.toUpperCase()}`, `WX_TPL_${n.toUpperCase()}`],
      ]),
    ),
  };
}
