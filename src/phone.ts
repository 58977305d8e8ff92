import { AppError } from './errors.js';

/** Mainland mobile numbers (api-contract.md §1): normalise, then ^1[3-9]\d{9}$. */
const MOBILE = /^1[3-9]\d{9}$/;

/** The 11 digits, or null when the input is not a mainland mobile number. */
export function normalizePhone(input: unknown): string | null {
  if (typeof input === 'number' && Number.isSafeInteger(input)) input = String(input);
  if (typeof input !== 'string') return null;
  let s = input.replace(/[\s\-()]/g, '');
  if (s.startsWith('+86')) s = s.slice(3);
  else if (s.startsWith('0086')) s = s.slice(4);
  else if (s.length === 13 && s.startsWith('86')) s = s.slice(2);
  return MOBILE.test(s) ? s : null;
}

/**
 * A phone field of a request: its 11 digits, or a 400 that names the field. Every route that
 * takes a phone checks it through here, so the rule and its message are written once.
 */
export function phoneField(field: string, value: unknown): string {
  const phone = normalizePhone(value);
  if (!phone) throw new AppError('VALIDATION_FAILED', `字段 ${field} 不是有效的手机号`);
  return phone;
}
