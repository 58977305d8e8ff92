import type { FieldRule } from 'vant';
import { charLength, isPhone, maskPhone, normalizePhone } from './format';
import { normalizeText, textProblem } from './limits';

/**
 * The rules of the forms' text fields: the server's own rule for typed text (src/limits.ts:
 * hidden characters, length). Nothing typed or pasted is cut off: a field holds what was typed,
 * and one over its limit says so while it is typed, with the limit and how much is too much.
 */
const live: FieldRule['trigger'] = ['onChange', 'onBlur'];

const hiddenRule = (what: string, multiline = false): FieldRule => ({
  validator: (v: string) => textProblem(normalizeText(v), 0, Infinity, multiline) === null,
  message: `${what}含有看不见的字符（如从别处复制来的控制符），请删除后重新输入`,
});

export const tooLong = (what: string, max: number): FieldRule => ({
  trigger: live,
  validator: (v: string) => charLength(normalizeText(v)) <= max,
  message: (v: string) => `${what}最多 ${max} 个字，现在 ${charLength(normalizeText(v))} 个字，请删去 ${charLength(normalizeText(v)) - max} 个字`,
});

export const required = (what: string, max: number): FieldRule[] => [
  hiddenRule(what),
  tooLong(what, max),
  { validator: (v: string) => normalizeText(v) !== '', message: `请填写${what}（不超过 ${max} 个字）` },
];

export const optional = (what: string, max: number, multiline = false): FieldRule[] => [hiddenRule(what, multiline), tooLong(what, max)];

/** A phone as people write it ("+86 137-0000-0051", "137 0000 0051"): checked once normalised. */
export const phoneRule = (what: string): FieldRule[] => [
  { validator: (v: string) => isPhone(v), message: `请填写${what}的 11 位手机号（可带 +86、空格或横线）` },
];

/** The contract's cross-field rule: visitor, host and companions all have different phones. */
export function duplicatePhone(phones: string[]): string | null {
  const seen = new Set<string>();
  for (const p of phones.map(normalizePhone)) {
    if (seen.has(p)) return `手机号 ${maskPhone(p)} 填了不止一次：访客、被访人和随行人员的手机号必须各不相同`;
    seen.add(p);
  }
  return null;
}
