/**
 * Phone input as the server normalises it (src/phone.ts, contract §1): spaces, dashes and
 * brackets removed, then +86 / 0086 / 86 before the 11 digits. "+86 137-0000-0051" is 13700000051.
 */
export function normalizePhone(input: string): string {
  const s = input.replace(/[\s\-()（）]/g, '');
  if (s.startsWith('+86')) return s.slice(3);
  if (s.startsWith('0086')) return s.slice(4);
  if (s.length === 13 && s.startsWith('86')) return s.slice(2);
  return s;
}

export function isPhone(input: string): boolean {
  return /^1[3-9]\d{9}$/.test(normalizePhone(input));
}

/** A phone as typed, tidied to its 11 digits once it is a valid one (left as typed otherwise, to be corrected). */
export function tidyPhone(input: string): string {
  return isPhone(input) ? normalizePhone(input) : input;
}

export function maskPhone(phone: string): string {
  return phone.length === 11 ? `${phone.slice(0, 3)}****${phone.slice(7)}` : phone;
}

/**
 * Times are shown and picked in China time, whatever zone the phone is set to: the visit
 * happens there. China keeps UTC+8 all year (no daylight saving), so the offset is fixed.
 */
export const CHINA_OFFSET_SECONDS = 8 * 3600;
export const CHINA_TIME = '北京时间';

export interface ChinaParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

export function chinaParts(unix: number): ChinaParts {
  const d = new Date((unix + CHINA_OFFSET_SECONDS) * 1000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() };
}

/** Unix seconds of a China wall-clock time (out-of-range days and hours roll over, as Date.UTC does). */
export function fromChina(year: number, month: number, day: number, hour = 0, minute = 0): number {
  return Date.UTC(year, month - 1, day, hour, minute) / 1000 - CHINA_OFFSET_SECONDS;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-12-01 09:30` in China time (say so where it is shown: CHINA_TIME). */
export function formatTime(unix: number): string {
  const p = chinaParts(unix);
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}`;
}

/** A visit window in China time, the end without its date when both are on one day. */
export function formatWindow(start: number, end: number): string {
  const a = formatTime(start);
  const b = formatTime(end);
  return a.slice(0, 10) === b.slice(0, 10) ? `${a} – ${b.slice(11)}` : `${a} – ${b}`;
}

/** Length in characters as the server counts them (code points). */
export function charLength(s: string): number {
  return [...s].length;
}
