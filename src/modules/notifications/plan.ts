import type { Config, TemplateName } from '../../config.js';

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
  proposer: string;
  interviewee: string;
  intervieweePhone: string;
  startTime: number;
  retinues: Array<{ name: string; phone: string }>;
}

/** `YYYY-MM-DD HH:mm` in Asia/Shanghai (UTC+8 all year). */
export function shanghaiTime(unixSeconds: number): string {
  return new Date((unixSeconds + 8 * 3600) * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

const FIRST: Record<NotificationEvent, Partial<Record<TemplateName, (a: ApplicationFacts) => string>>> = {
  invitation_created: { approval_pass_to_visitor: (a) => `您好，${a.interviewee}邀请您来访，预约已确认。` },
  request_created: {
    approval_reminder_to_employee: (a) => `访客${a.name}申请拜访您，请及时授权。`,
    application_submitted_to_visitor: (a) => `您的来访申请已提交，等待${a.interviewee}授权。`,
  },
  request_authorized: { approval_pass_to_visitor: (a) => `您的来访申请已通过，${a.interviewee}已授权。` },
};

const REMARK: Partial<Record<TemplateName, string>> = {
  verification_code: '',
  approval_pass_to_visitor: '请按时到访，到达后在前台签到。',
  approval_reminder_to_employee: '请打开“来访记录”进行授权。',
  application_submitted_to_visitor: '授权结果将另行通知您。',
  signin_to_visitor: '请在有效时间内凭二维码通行。',
  visitor_signin_to_employee: '访客已在前台签到。',
};

/** Who is told what (api-contract.md §5); each recipient gets an SMS and a WeChat message. */
export function planNotifications(event: NotificationEvent, a: ApplicationFacts, templates: Config['templates'], recordsUrl: string): PlannedNotification[] {
  const recipients: Array<{ phone: string; name: string; template: TemplateName }> = [];
  if (event === 'invitation_created') {
    recipients.push({ phone: a.phone, name: a.name, template: 'approval_pass_to_visitor' });
    for (const r of a.retinues) recipients.push({ phone: r.phone, name: r.name, template: 'approval_pass_to_visitor' });
  } else if (event === 'request_created') {
    recipients.push({ phone: a.intervieweePhone, name: a.interviewee, template: 'approval_reminder_to_employee' });
    recipients.push({ phone: a.proposer, name: a.name, template: 'application_submitted_to_visitor' });
  } else {
    recipients.push({ phone: a.proposer, name: a.name, template: 'approval_pass_to_visitor' });
  }
  const time = shanghaiTime(a.startTime);
  const out: PlannedNotification[] = [];
  for (const r of recipients) {
    out.push({
      event,
      channel: 'sms',
      phone: r.phone,
      template: r.template,
      payload: { templateCode: templates.sms[r.template], params: { name: r.name, host: a.interviewee, time } },
    });
    out.push({
      event,
      channel: 'wechat',
      phone: r.phone,
      template: r.template,
      payload: {
        tplMessageId: templates.wechat[r.template],
        url: recordsUrl,
        data: { first: FIRST[event][r.template]?.(a) ?? '', keyword1: a.name, keyword2: a.interviewee, keyword3: time, remark: REMARK[r.template] ?? '' },
      },
    });
  }
  return out;
}
