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
