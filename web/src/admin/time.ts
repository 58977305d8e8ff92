/**
 * The console's times are China time (Asia/Shanghai, UTC+8, no daylight saving) whatever the
 * browser's zone: the records are about one site, and each page says so once.
 */
export const ZONE_NOTE = '时间均为北京时间（UTC+8）';
const OFFSET_S = 8 * 3600;
const pad = (n: number) => String(n).padStart(2, '0');

/** Unix seconds → `YYYY-MM-DD HH:mm` in China time; `—` for none. */
export function fmt(unix: number | null | undefined): string {
  if (unix === null || unix === undefined) return '—';
  const d = new Date((unix + OFFSET_S) * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** A `YYYY-MM-DD` day in China time → Unix seconds at its first second, or at its last (`end`). */
export function dayStart(date: string, end = false): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000 - OFFSET_S;
  return end ? start + 86_400 - 1 : start;
}

/** A date-range picker's value (`['YYYY-MM-DD', 'YYYY-MM-DD']` or null) → start_time / end_time. */
export function rangeQuery(range: [string, string] | null | undefined): { start_time?: number; end_time?: number } {
  if (!range) return {};
  return { start_time: dayStart(range[0]), end_time: dayStart(range[1], true) };
}
