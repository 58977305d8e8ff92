/** Codes sent per phone (§3.0): 1 a minute, 5 an hour, 10 a day. */
export const SEND_LIMITS = [
  { windowMs: 60_000, max: 1 },
  { windowMs: 3_600_000, max: 5 },
  { windowMs: 86_400_000, max: 10 },
] as const;

/** The longest window of SEND_LIMITS: what `sentTimes` must cover. */
export const SEND_LIMITS_SPAN_MS = 86_400_000;

/**
 * Whether a phone may be sent another code at `now`, given when its codes of the last day were
 * sent (Unix ms, newest first): null when it may, otherwise the seconds until the first limit
 * reached lets one more through (when the oldest code in that window leaves it).
 */
export function sendRetryAfter(sentTimes: readonly number[], now: number): number | null {
  for (const limit of SEND_LIMITS) {
    const inWindow = sentTimes.filter((t) => t > now - limit.windowMs);
    if (inWindow.length >= limit.max) return (inWindow[inWindow.length - 1]! + limit.windowMs - now) / 1000;
  }
  return null;
}
