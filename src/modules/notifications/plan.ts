import type { Config, TemplateName } from '../../config.js';
import { companyText, party, shanghaiTime, smsParams, wechatData, windowText, type SMS_PARAMS } from './fields.js';

export type NotificationEvent = 'invitation_created' | 'request_created' | 'request_authorized';

export interface PlannedNotification {
  event: NotificationEvent;
  channel: 'sms' | 'wechat';
  phone: string;
  template: TemplateName;
  payload: SmsPayload | WechatPayload;
}

export interface SmsPayload {
  templateCode: string;
  params: Record<string, string>;
}

export interface WechatPayload {
  tplMessageId: string;
  url: string;
  data: Record<string, string>;
}

export interface ApplicationFacts {
  kind: 'invitation' | 'request';
  name: string;
  phone: string;
  /** The visitor's company (`come_from`), "" when not given. */
  company: string;
  proposer: string;
  interviewee: string;
  intervieweePhone: string;
  startTime: number;
  endTime: number;
  retinues: Array<{ name: string; phone: string }>;
}

export { shanghaiTime } from './fields.js';

/** What keyword4 (状态) and keyword5 (说明) say, per event and template. */
const STATUS: Record<NotificationEvent, Partial<Record<TemplateName, (a: ApplicationFacts) => [string, string]>>> = {
  invitation_created: { approval_pass_to_visitor: () => ['已预约', '请按时到访，到前台签到'] },
  request_created: {
    approval_reminder_to_employee: (a) => ['待您授权', `来自${companyText(a.company)}`],
    application_submitted_to_visitor: () => ['待被访人授权', '授权结果将另行通知'],
  },
  request_authorized: { approval_pass_to_visitor: () => ['已通过', '请按时到访，到前台签到'] },
};

/**
 * Who is told what (api-contract.md §5); each recipient gets an SMS and a WeChat message. The
 * SMS parameters are those of fields.ts (SMS_PARAMS), each within Aliyun's 35 characters; the
 * WeChat message says everything in keyword1–5. Its `url` is a fallback: the worker links every
 * WeChat message to its visit's page.
 */
export function planNotifications(event: NotificationEvent, a: ApplicationFacts, templates: Config['templates'], recordsUrl: string): PlannedNotification[] {
  const recipients: Array<{ phone: string; name: string; template: keyof typeof SMS_PARAMS }> = [];
  if (event === 'invitation_created') {
    recipients.push({ phone: a.phone, name: a.name, template: 'approval_pass_to_visitor' });
    for (const r of a.retinues) recipients.push({ phone: r.phone, name: r.name, template: 'approval_pass_to_visitor' });
  } else if (event === 'request_created') {
    recipients.push({ phone: a.intervieweePhone, name: a.interviewee, template: 'approval_reminder_to_employee' });
    recipients.push({ phone: a.proposer, name: a.name, template: 'application_submitted_to_visitor' });
  } else {
    recipients.push({ phone: a.proposer, name: a.name, template: 'approval_pass_to_visitor' });
  }
  const count = 1 + a.retinues.length;
  const values = {
    visitor: a.name,
    company: companyText(a.company),
    host: a.interviewee,
    time: shanghaiTime(a.startTime),
    end: shanghaiTime(a.endTime),
    count: String(count),
  };
  const out: PlannedNotification[] = [];
  for (const r of recipients) {
    const [status, hint] = STATUS[event][r.template]?.(a) ?? ['', ''];
    out.push({
      event,
      channel: 'sms',
      phone: r.phone,
      template: r.template,
      payload: { templateCode: templates.sms[r.template], params: smsParams(r.template, { ...values, name: r.name }) },
    });
    out.push({
      event,
      channel: 'wechat',
      phone: r.phone,
      template: r.template,
      payload: {
        tplMessageId: templates.wechat[r.template],
        url: recordsUrl,
        data: wechatData([party(a.name, count), a.interviewee, windowText(a.startTime, a.endTime), status, hint]),
      },
    });
  }
  return out;
}
