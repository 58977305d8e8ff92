import { SMS_VARIABLE_MAX } from '../../adapters/sms/port.js';
import type { TemplateName } from '../../config.js';

/**
 * What a message says, field by field, within what each channel shows.
 *
 * SMS: Aliyun refuses a variable over 35 characters and a link in a variable, so every value
 * goes through `clip` and a link is fixed template text around a short code
 * (`https://<host>/p/${code}`). Each parameter means the same in every template (SMS_PARAMS).
 *
 * WeChat: template messages no longer show `first` and `remark`, and show at most 20
 * characters of a keyword line, so everything goes into keyword1–5 (WECHAT_KEYWORDS), each
 * clipped to 20.
 */
export const WECHAT_KEYWORD_MAX = 20;

/** Every SMS parameter, with what it means in every template (docs/api-contract.md §5). */
export const SMS_PARAM_MEANING = {
  name: 'the recipient (the person the SMS is sent to)',
  visitor: 'the visitor of the visit (who asked, or was invited)',
  company: 'the visitor’s company (`come_from`; 未填写 when empty)',
  host: 'the host (`interviewee`)',
  time: 'the start of the visit, `YYYY-MM-DD HH:mm`, China time',
  end: 'the end of the visit (the last moment a pass admits), `YYYY-MM-DD HH:mm`, China time',
  count: 'how many people come (the visitor and the companions)',
  code: 'the pass’s short code: the template holds the link as fixed text, `https://<host>/p/${code}`',
  reason: 'why a visit was rejected or cancelled, as its host or proposer wrote it (无 when none)',
} as const;
export type SmsParam = keyof typeof SMS_PARAM_MEANING;

/** The parameters of each template: exactly these are sent (Aliyun wants every variable of the template). */
export const SMS_PARAMS: Record<Exclude<TemplateName, 'verification_code'>, readonly SmsParam[]> = {
  approval_pass_to_visitor: ['name', 'host', 'time'],
  approval_reminder_to_employee: ['name', 'visitor', 'company', 'count', 'time'],
  application_submitted_to_visitor: ['name', 'host', 'time'],
  signin_to_visitor: ['name', 'host', 'end', 'code'],
  visitor_signin_to_employee: ['name', 'visitor', 'count', 'time'],
  visit_rejected: ['visitor', 'host', 'time', 'reason'],
  visit_cancelled: ['visitor', 'host', 'time', 'reason'],
  visit_rescheduled: ['visitor', 'host', 'time'],
  visit_expired: ['visitor', 'host', 'time'],
};

/** The keyword lines of every WeChat template message: the same five, in the same order. */
export const WECHAT_KEYWORDS = {
  keyword1: '访客 (the visitor; a pass message: the person holding the pass), with 等N人 when companions come',
  keyword2: '被访人 (the host)',
  keyword3: '来访时间 (the window, China time)',
  keyword4: '状态 (what happened: 待授权, 已预约, 已签到 …)',
  keyword5: '提示 (what to do next)',
} as const;

/**
 * A value that fits in `max` UTF-16 units: kept whole when it fits, else its start and "…".
 * A character is never cut in half (a name may hold characters outside the BMP).
 */
export function clip(value: string, max: number = SMS_VARIABLE_MAX): string {
  const text = value.trim();
  if (text.length <= max) return text;
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/** Exactly the template's parameters, each clipped to Aliyun's limit. */
export function smsParams(template: keyof typeof SMS_PARAMS, values: Partial<Record<SmsParam, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SMS_PARAMS[template]) out[name] = clip(values[name] ?? '');
  return out;
}

/** How WeChat counts a keyword line: a run of ASCII letters and digits is one character. */
const WECHAT_UNIT = /[A-Za-z0-9]+|[\s\S]/gu;

export function wechatLength(value: string): number {
  return value.match(WECHAT_UNIT)?.length ?? 0;
}

/** A keyword line WeChat shows whole: kept when it fits in `max` of its characters, else its start and "…". */
export function clipWechat(value: string, max: number = WECHAT_KEYWORD_MAX): string {
  const units = value.trim().match(WECHAT_UNIT) ?? [];
  return units.length <= max ? units.join('') : `${units.slice(0, max - 1).join('')}…`;
}

/** keyword1–5, each clipped to what WeChat shows; no `first`, no `remark`. */
export function wechatData(k: [string, string, string, string, string]): Record<string, string> {
  return Object.fromEntries(k.map((v, i) => [`keyword${i + 1}`, clipWechat(v)]));
}

/** `YYYY-MM-DD HH:mm` in Asia/Shanghai (UTC+8 all year). */
export function shanghaiTime(unixSeconds: number): string {
  return new Date((unixSeconds + 8 * 3600) * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

/** A window as one line: `2026-12-05 14:00至16:00`, the end's date shown when it is another day. */
export function windowText(start: number, end: number): string {
  const s = shanghaiTime(start);
  const e = shanghaiTime(end);
  return `${s}至${e.slice(0, 10) === s.slice(0, 10) ? e.slice(11) : e.slice(5)}`;
}

/** The visitor's name with how many come: `张三等3人`, or the name alone. */
export function party(visitor: string, count: number): string {
  const suffix = count > 1 ? `等${count}人` : '';
  return clipWechat(visitor, WECHAT_KEYWORD_MAX - wechatLength(suffix)) + suffix;
}

/** The company as an SMS shows it. */
export const companyText = (comeFrom: string): string => comeFrom.trim() || '未填写';
