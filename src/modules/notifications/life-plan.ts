import type { Config, TemplateName } from '../../config.js';
import { shanghaiTime, type SmsPayload, type WechatPayload } from './plan.js';

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
  interviewee: string;
  startTime: number;
  endTime: number;
  /** A rejection's or cancellation's reason ('' when none). */
  reason: string;
  /** The H5 page of the visit (`/h5/#/visit/{id}`): the WeChat message links to it. */
  url: string;
}

/** Aliyun refuses a template variable longer than this many characters. */
export const SMS_VARIABLE_MAX = 35;

/** `s` in at most `max` characters (code points), cut with an ellipsis. */
export function clip(s: string, max = SMS_VARIABLE_MAX): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

const STATUS_TEXT: Record<LifeEvent, string> = {
  rejected: '已拒绝',
  cancelled: '已取消',
  rescheduled: '时间已变更',
  expired: '未获授权，已过期',
};

/**
 * One message to each recipient, by SMS and by WeChat. The SMS variables mean the same in every
 * template: `name` the visitor, `host` the host, `time` the start (China time), `reason` the
 * reason; each at most 35 characters. WeChat shows only keyword fields (no `first`, no
 * `remark`): keyword1 the visitor, keyword2 the host, keyword3 the window, keyword4 what
 * happened (with the reason), and links to the visit's page.
 */
export function planLifeNotifications(
  event: LifeEvent,
  f: LifeFacts,
  recipients: ReadonlyArray<{ phone: string; template: TemplateName }>,
  templates: Config['templates'],
): PlannedLifeNotification[] {
  const time = shanghaiTime(f.startTime);
  const window = `${time} 至 ${shanghaiTime(f.endTime).slice(11)}`;
  const params: Record<string, string> = { name: clip(f.name), host: clip(f.interviewee), time };
  if (event === 'rejected' || event === 'cancelled') params.reason = clip(f.reason === '' ? '无' : f.reason);
  const status = f.reason === '' ? STATUS_TEXT[event] : `${STATUS_TEXT[event]}：${f.reason}`;
  const seen = new Set<string>();
  const out: PlannedLifeNotification[] = [];
  for (const r of recipients) {
    if (seen.has(r.phone)) continue;
    seen.add(r.phone);
    out.push({ event, channel: 'sms', phone: r.phone, template: r.template, payload: { templateCode: templates.sms[r.template], params } });
    out.push({
      event,
      channel: 'wechat',
      phone: r.phone,
      template: r.template,
      payload: {
        tplMessageId: templates.wechat[r.template],
        url: f.url,
        data: {
          keyword1: f.name,
          keyword2: f.interviewee,
          keyword3: window,
          keyword4: r.template === 'approval_reminder_to_employee' ? '来访时间已变更，请重新授权' : status,
        },
      },
    });
  }
  return out;
}
