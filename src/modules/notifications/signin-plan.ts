import type { Config } from '../../config.js';
import type { SmsPayload, WechatPayload } from './plan.js';
import { shanghaiTime } from './plan.js';

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
 * A message that carries a pass keeps only the pass's id at rest: the link to the pass picture
 * holds a key that opens the QR code (the pass itself), so it is built by the worker when it
 * sends (`send.ts`) and never stored. A dump of the outbox then holds no usable pass. The SMS
 * gets the link as its `url` parameter, the WeChat message as its `url`.
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
 * Who a sign-in tells: each person their own pass (`signin_to_visitor`, the link
 * opens the QR picture), and the host that the visitor has arrived
 * (`visitor_signin_to_employee`). Each by SMS and WeChat, like every other event.
 */
export function planSigninNotifications(f: SigninFacts, templates: Config['templates']): PlannedSigninNotification[] {
  const until = shanghaiTime(f.endTime);
  const out: PlannedSigninNotification[] = [];
  const add = (
    phone: string,
    template: PlannedSigninNotification['template'],
    params: Record<string, string>,
    link: { url: string } | { passId: number },
    first: string,
    remark: string,
  ) => {
    const pass = 'passId' in link ? { passId: link.passId } : {};
    out.push({ event: SIGNIN_EVENT, channel: 'sms', phone, template, payload: { templateCode: templates.sms[template], params, ...pass } });
    out.push({
      event: SIGNIN_EVENT,
      channel: 'wechat',
      phone,
      template,
      payload: {
        tplMessageId: templates.wechat[template],
        url: 'url' in link ? link.url : '',
        data: { first, keyword1: params.name ?? '', keyword2: f.interviewee, keyword3: until, remark },
        ...pass,
      },
    });
  };
  for (const p of f.people) {
    add(
      p.phone,
      'signin_to_visitor',
      { name: p.name, host: f.interviewee, time: until },
      { passId: p.passId },
      `${p.name}，您已签到，请凭二维码通行。`,
      `通行码有效至 ${until}。`,
    );
  }
  const visitor = f.people[0]!;
  const names = f.people.map((p) => p.name).join('、');
  add(
    f.intervieweePhone,
    'visitor_signin_to_employee',
    { name: visitor.name, count: String(f.people.length), time: shanghaiTime(f.startTime) },
    { url: f.recordsUrl },
    `您的访客${names}已在前台签到。`,
    '',
  );
  return out;
}
