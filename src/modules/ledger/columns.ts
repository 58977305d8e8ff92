import type { AdminRecord } from '../admin/records.js';

/** One column of the ledger: its Chinese header, its width in Excel, its value for a record. */
interface Column {
  header: string;
  width: number;
  value(r: AdminRecord, o: RowOptions): string | number;
}

export interface RowOptions {
  /** Unix seconds: whether a window is over (未到访, 已过期). */
  now: number;
  fullPhones: boolean;
}

const CHINA_OFFSET_S = 8 * 3600;

/** Unix seconds → `2026-12-05 09:30:00` in China time (UTC+8, no daylight saving); '' for none. */
export function chinaTime(t: number | null | undefined): string {
  if (t === null || t === undefined || t === 0) return '';
  return new Date((t + CHINA_OFFSET_S) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** `13812345678` → `138****5678`. */
export function maskedPhone(phone: string): string {
  return phone.length === 11 ? `${phone.slice(0, 3)}****${phone.slice(7)}` : phone;
}

/**
 * A cell a spreadsheet would run as a formula (starting with `= + - @`, tab or carriage
 * return) gets a leading apostrophe, so it is shown as the text it is (CSV injection).
 */
export function neutralised(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** Where a visit stands, in the words the front desk uses. */
export function statusOf(r: AdminRecord, now: number): string {
  if (r.signout_time !== null) return '已签退';
  if (r.signin_time !== null) return '已签到';
  const over = r.end_time < now;
  if (r.is_auth === 1) return over ? '未到访' : '已授权';
  return over ? '已过期' : '待授权';
}

const phoneOf = (p: string, o: RowOptions) => (o.fullPhones ? p : maskedPhone(p));

export const LEDGER_COLUMNS: readonly Column[] = [
  { header: '编号', width: 10, value: (r) => r.id },
  { header: '类型', width: 8, value: (r) => (r.kind === 'invitation' ? '邀请' : '申请') },
  { header: '访客姓名', width: 12, value: (r) => r.name },
  { header: '手机号', width: 14, value: (r, o) => phoneOf(r.phone, o) },
  { header: '公司', width: 20, value: (r) => r.come_from },
  { header: '被访人', width: 10, value: (r) => r.interviewee },
  { header: '被访人手机号', width: 14, value: (r, o) => phoneOf(r.interviewee_phone, o) },
  { header: '来访事由', width: 12, value: (r) => r.purpose_name },
  { header: '开始时间', width: 20, value: (r) => chinaTime(r.start_time) },
  { header: '结束时间', width: 20, value: (r) => chinaTime(r.end_time) },
  { header: '状态', width: 8, value: (r, o) => statusOf(r, o.now) },
  { header: '授权时间', width: 20, value: (r) => (r.is_auth === 1 ? chinaTime(r.auth_time) : '') },
  { header: '签到时间', width: 20, value: (r) => chinaTime(r.signin_time) },
  { header: '签退时间', width: 20, value: (r) => chinaTime(r.signout_time) },
  { header: '同行人数', width: 8, value: (r) => r.retinues.length },
  { header: '同行人', width: 30, value: (r, o) => r.retinues.map((p) => `${p.name} ${phoneOf(p.phone, o)}`).join('；') },
  { header: '备注', width: 24, value: (r) => r.remark },
  { header: '登记时间', width: 20, value: (r) => chinaTime(r.created_at) },
];

/** The cells of one record, every text neutralised. */
export function ledgerRow(r: AdminRecord, o: RowOptions): Array<string | number> {
  return LEDGER_COLUMNS.map((c) => {
    const v = c.value(r, o);
    return typeof v === 'string' ? neutralised(v) : v;
  });
}
