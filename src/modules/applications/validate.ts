import { AppError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
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

/** C0/C1 control characters (NUL cannot even be stored) and unpaired UTF-16 surrogates. */
const NOT_TEXT = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;
/** The same, but line breaks and tabs are text in a remark. */
const NOT_MULTILINE_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|\p{Cs}/u;

/** Trimmed text of `min`–`max` characters (code points, not UTF-16 units). */
export function textField(field: string, value: string | undefined, min: number, max: number, multiline = false): string {
  const v = (value ?? '').trim();
  if ((multiline ? NOT_MULTILINE_TEXT : NOT_TEXT).test(v)) throw new AppError('VALIDATION_FAILED', `字段 ${field} 含有不可见的控制字符或无效字符`);
  if (v.length < min) throw new AppError('VALIDATION_FAILED', `字段 ${field} 不能为空`);
  if ([...v].length > max) throw new AppError('VALIDATION_FAILED', `字段 ${field} 不能超过 ${max} 个字`);
  return v;
}

/** The fields of a request body, checked and normalised; `now` in Unix seconds. */
export function validateApplication(input: ApplyInput, now: number): ValidApplication {
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
  if (valid.startTime >= valid.endTime) throw new AppError('VALIDATION_FAILED', '字段 end_time 必须晚于 start_time');
  if (valid.endTime <= now) throw new AppError('VALIDATION_FAILED', '字段 end_time 必须是将来的时间');
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
