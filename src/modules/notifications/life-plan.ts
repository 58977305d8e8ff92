import type { Config, TemplateName } from '../../config.js';
import { companyText, party, shanghaiTime, smsParams, wechatData, windowText } from './fields.js';
import type { SmsPayload, WechatPayload } from './plan.js';

/**
 * The events of a visit's life after it is made (the `event` of their outbox rows). A visit that
 * is moved (`rescheduled`) may be moved again: every outbox row carries the visit's revision
 * (migration 0009), so each move is told once.
 */
export type LifeEvent = 'rejected' | 'cancelled' | 'rescheduled' | 'expired';

export interface PlannedLifeNotification {
  event: LifeEvent;
  channel: 'sms' | 'wechat';
  phone: string;
  template: TemplateName;
  payload: SmsPayload | WechatPayload;
}

/** What the messages of a visit's life say: the visit as it stands after the change. */
export interface LifeFacts {
  id: number;
  /** The visitor's name. */
  name: string;
  /** The visitor's company (`come_from`). */
  company: string;
  /** How many people come: the visitor and the companions. */
  count: number;
  interviewee: string;
  startTime: number;
  endTime: number;
  /** A rejection's or cancellation's reason ('' when none). */
  reason: string;
  /** The H5 page of the visit (`/h5/#/visit/{id}`): the WeChat message links to it. */
  url: string;
}

const STATUS_TEXT: Record<LifeEvent, string> = {
  rejected: '已拒绝',
  cancelled: '已取消',
  rescheduled: '时间已变更',
  expired: '未获授权，已过期',
};

/** keyword5 when no reason is given. */
const HINT: Record<LifeEvent, string> = {
  rejected: '如需来访，请联系被访人',
  cancelled: '本次来访不再进行',
  rescheduled: '请按新的时间到访',
  expired: '如需来访，请重新申请',
};

/**
 * One message to each recipient, by SMS and by WeChat. The SMS parameters are those of
 * fields.ts (SMS_PARAMS: `visitor`, `host`, `time`, `reason` mean the same in every template,
 * each within Aliyun's 35 characters); a host asked to authorize a moved request gets the
 * request's own template, whose `name` is the host. WeChat shows only keyword1–5 (no `first`,
 * no `remark`): the visitor, the host, the window, what happened and what to do, and links to
 * the visit's page.
 */
export function planLifeNotifications(
  event: LifeEvent,
  f: LifeFacts,
  recipients: ReadonlyArray<{ phone: string; template: TemplateName }>,
  templates: Config['templates'],
): PlannedLifeNotification[] {
  const values = {
    name: f.interviewee,
    visitor: f.name,
    company: companyText(f.company),
    count: String(f.count),
    host: f.interviewee,
    time: shanghaiTime(f.startTime),
    reason: f.reason === '' ? '无' : f.reason,
  };
  const seen = new Set<string>();
  const out: PlannedLifeNotification[] = [];
  for (const r of recipients) {
    if (seen.has(r.phone) || r.template === 'verification_code') continue;
    seen.add(r.phone);
    const reauthorize = r.template === 'approval_reminder_to_employee';
    const params = smsParams(r.template, values);
    out.push({ event, channel: 'sms', phone: r.phone, template: r.template, payload: { templateCode: templates.sms[r.template], params } });
    const [status, hint] = reauthorize
      ? ['时间已变更，待您授权', '请打开来访详情重新授权']
      : [STATUS_TEXT[event], f.reason === '' ? HINT[event] : `原因：${f.reason}`];
    out.push({
      event,
      channel: 'wechat',
      phone: r.phone,
      template: r.template,
      payload: {
        tplMessageId: templates.wechat[r.template],
        url: f.url,
        data: wechatData([party(f.name, f.count), f.interviewee, windowText(f.startTime, f.endTime), status, hint]),
      },
    });
  }
  return out;
}
