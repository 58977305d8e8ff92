import { AppError } from '../../errors.js';
import { LIMITS, normalizeText, textProblem } from '../../limits.js';
import { phoneField } from '../../phone.js';
import type { ApplyInput } from './schemas.js';

/**
 * The first step of 3.7, pure: what the request schema cannot check (phones, characters, the
 * window, duplicate people), then the purpose, then which kind of application the caller may
 * make. Every failure is a 400 naming the field, before any business rule (§2), except the
 * last (403 NOT_PROPOSER).
 */
export interface ValidApplication {
  name: string;
  phone: string;
  /** The host's name as the caller typed it (a visitor request is checked against Koala with it). */
  interviewee: string;
  hostPhone: string;
  comeFrom: string;
  remark: string;
  retinues: Array<{ name: string; phone: string }>;
  startTime: number;
  endTime: number;
}

export type ApplicationKind = 'invitation' | 'request';

export interface Purpose {
  label: string;
  value: number;
}

/** The longest window (hours) and how far ahead it may start (days): `MAX_VISIT_HOURS`, `MAX_DAYS_AHEAD`. */
export interface VisitWindowLimits {
  maxHours: number;
  maxDaysAhead: number;
}

/**
 * Typed text as it is kept (NFC, trimmed) of `min`–`max` characters (code points, not UTF-16
 * units), without hidden characters (src/limits.ts: controls, bidi overrides, zero-width, …;
 * a multiline remark keeps tabs and line breaks). Every text field of an application passes here.
 */
export function textField(field: string, value: string | undefined, min: number, max: number, multiline = false): string {
  const v = normalizeText(value ?? '');
  const problem = textProblem(v, min, max, multiline);
  if (problem?.kind === 'hidden') throw new AppError('VALIDATION_FAILED', `字段 ${field} 含有不可见字符或控制字符（${problem.character}），请删除后再提交`);
  if (problem?.kind === 'empty') throw new AppError('VALIDATION_FAILED', `字段 ${field} 不能为空`);
  if (problem?.kind === 'too_long') throw new AppError('VALIDATION_FAILED', `字段 ${field} 不能超过 ${max} 个字`);
  return v;
}

/**
 * The visit window (seconds): it ends after it starts and in the future (the contract), lasts
 * at most `maxHours` (so it also started at most that long ago) and starts within `maxDaysAhead`
 * days. A pass admits, and a Koala visitor lasts, only within it.
 */
export function checkWindow(start: number, end: number, now: number, limits: VisitWindowLimits): void {
  if (start >= end) throw new AppError('VALIDATION_FAILED', '字段 end_time 必须晚于 start_time');
  if (end <= now) throw new AppError('VALIDATION_FAILED', '字段 end_time 必须是将来的时间');
  if (end - start > limits.maxHours * 3600) throw new AppError('VALIDATION_FAILED', `字段 end_time：一次来访最长 ${limits.maxHours} 小时`);
  if (start > now + limits.maxDaysAhead * 86_400) throw new AppError('VALIDATION_FAILED', `字段 start_time：来访开始时间最晚为 ${limits.maxDaysAhead} 天之后`);
}

/** The fields of a request body, checked and normalised; `now` in Unix seconds. */
export function validateApplication(input: ApplyInput, now: number, window: VisitWindowLimits): ValidApplication {
  const valid: ValidApplication = {
    name: textField('name', input.name, 1, LIMITS.personName),
    interviewee: textField('interviewee', input.interviewee, 1, LIMITS.personName),
    comeFrom: textField('come_from', input.come_from, 0, LIMITS.company),
    remark: textField('remark', input.remark, 0, LIMITS.remark, true),
    phone: phoneField('phone', input.phone),
    hostPhone: phoneField('interviewee_phone', input.interviewee_phone),
    retinues: (input.retinues ?? []).map((r, i) => ({
      name: textField(`retinues[${i}].name`, r.name, 1, LIMITS.personName),
      phone: phoneField(`retinues[${i}].phone`, r.phone),
    })),
    startTime: input.start_time,
    endTime: input.end_time,
  };
  checkWindow(valid.startTime, valid.endTime, now, window);
  if (valid.phone === valid.hostPhone) throw new AppError('VALIDATION_FAILED', '字段 phone 不能与被访人手机号 interviewee_phone 相同');
  const seen = new Set([valid.phone, valid.hostPhone]);
  valid.retinues.forEach((r, i) => {
    if (seen.has(r.phone)) throw new AppError('VALIDATION_FAILED', `字段 retinues[${i}].phone 与其他人员的手机号重复`);
    seen.add(r.phone);
  });
  return valid;
}

/** The purpose the body names (0 when it names none) among those offered; still a 400. */
export function choosePurpose(purposes: readonly Purpose[], value: number | undefined): Purpose {
  const purpose = purposes.find((x) => x.value === (value ?? 0));
  if (!purpose) throw new AppError('VALIDATION_FAILED', `字段 purpose 不是可选的来访目的`);
  return purpose;
}

/** A caller who is the host invites; one who is the visitor requests; anybody else may not apply. */
export function kindOf(callerPhone: string, valid: ValidApplication): ApplicationKind {
  if (callerPhone === valid.hostPhone) return 'invitation';
  if (callerPhone === valid.phone) return 'request';
  throw new AppError('NOT_PROPOSER');
}
