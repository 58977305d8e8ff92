import type { Config } from '../../config.js';
import { party, shanghaiTime, smsParams, wechatData, windowText } from './fields.js';
import type { SmsPayload, WechatPayload } from './plan.js';

/** The notifications table's `event` for everything a sign-in sends (one row per phone and channel). */
export const SIGNIN_EVENT = 'visitor_signed_in';

export interface PlannedSigninNotification {
  event: typeof SIGNIN_EVENT;
  channel: 'sms' | 'wechat';
  phone: string;
  template: 'signin_to_visitor' | 'visitor_signin_to_employee';
  payload: SmsPayload | WechatPayload | PassSmsPayload | PassWechatPayload;
}

/**
 * A message that carries a pass keeps only the pass's id at rest: the pass's short code opens
 * the pass, so the worker adds it when it sends (`send.ts`) and it is never stored. A dump of
 * the outbox then holds no usable pass. The SMS gets it as its `code` parameter (the template
 * holds the link, `https://<host>/p/${code}`); the WeChat message links to the visit's page, and
 * keeps the pass id so that it is not sent once the pass is revoked.
 */
export interface PassSmsPayload extends SmsPayload {
  passId: number;
}
export interface PassWechatPayload extends WechatPayload {
  passId: number;
}

export interface SigninFacts {
  interviewee: string;
  intervieweePhone: string;
  startTime: number;
  endTime: number;
  /** The visitor first, then each companion, each with their own pass (its id: the link is built at send time). */
  people: Array<{ name: string; phone: string; passId: number }>;
  recordsUrl: string;
}

/**
 * Who a sign-in tells: each person their own pass (`signin_to_visitor`, its short code opens
 * the pass), and the host that the visitor has arrived (`visitor_signin_to_employee`). Each by
 * SMS and WeChat, like every other event.
 */
export function planSigninNotifications(f: SigninFacts, templates: Config['templates']): PlannedSigninNotification[] {
  const visitor = f.people[0]!;
  const count = f.people.length;
  const window = windowText(f.startTime, f.endTime);
  const values = { visitor: visitor.name, host: f.interviewee, time: shanghaiTime(f.startTime), end: shanghaiTime(f.endTime), count: String(count) };
  const out: PlannedSigninNotification[] = [];
  const add = (phone: string, template: PlannedSigninNotification['template'], name: string, keywords: Parameters<typeof wechatData>[0], passId?: number) => {
    const pass = passId === undefined ? {} : { passId };
    const params = smsParams(template, { ...values, name });
    out.push({ event: SIGNIN_EVENT, channel: 'sms', phone, template, payload: { templateCode: templates.sms[template], params, ...pass } });
    out.push({
      event: SIGNIN_EVENT,
      channel: 'wechat',
      phone,
      template,
      payload: { tplMessageId: templates.wechat[template], url: f.recordsUrl, data: wechatData(keywords), ...pass },
    });
  };
  for (const p of f.people) {
    add(p.phone, 'signin_to_visitor', p.name, [p.name, f.interviewee, window, '已签到', `通行码有效至${shanghaiTime(f.endTime).slice(5)}`], p.passId);
  }
  const names = f.people.map((p) => p.name).join('、');
  add(f.intervieweePhone, 'visitor_signin_to_employee', f.interviewee, [party(visitor.name, count), f.interviewee, window, '访客已签到', names]);
  return out;
}
