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
