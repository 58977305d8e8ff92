/** Phone input as the contract normalises it (§1): spaces, dashes and +86 / 0086 / 86 removed. */
export function normalizePhone(input: string): string {
  return input.replace(/[\s-]/g, '').replace(/^(\+86|0086|86)(?=1\d{10}$)/, '');
}

export function isPhone(input: string): boolean {
  return /^1[3-9]\d{9}$/.test(normalizePhone(input));
}

export function maskPhone(phone: string): string {
  return phone.length === 11 ? `${phone.slice(0, 3)}****${phone.slice(7)}` : phone;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-12-01 09:30` in the phone's own time zone. */
export function formatTime(unix: number): string {
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A visit window, the end without its date when both are on one day. */
export function formatWindow(start: number, end: number): string {
  const a = formatTime(start);
  const b = formatTime(end);
  return a.slice(0, 10) === b.slice(0, 10) ? `${a} – ${b.slice(11)}` : `${a} – ${b}`;
}

/** Length in characters as the server counts them (code points). */
export function charLength(s: string): number {
  return [...s].length;
}
