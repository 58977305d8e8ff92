/** A limit on codes sent: at most `max` in any `windowMs`. */
export interface SendLimit {
  windowMs: number;
  max: number;
}

/** Codes sent per phone (§3.0): 1 a minute, 5 an hour, 10 a day. */
export const SEND_LIMITS: readonly SendLimit[] = [
  { windowMs: 60_000, max: 1 },
  { windowMs: 3_600_000, max: 5 },
  { windowMs: 86_400_000, max: 10 },
];

/**
 * Codes one WeChat user may have sent to one phone: fewer than the phone's own limits, so that
 * one stranger asking codes for somebody else's phone never uses up that phone's hour or day.
 */
export const REQUESTER_SEND_LIMITS: readonly SendLimit[] = [
  { windowMs: 3_600_000, max: 3 },
  { windowMs: 86_400_000, max: 5 },
];

/** The longest window of SEND_LIMITS: what `sentTimes` must cover. */
export const SEND_LIMITS_SPAN_MS = 86_400_000;

/**
 * Whether one more code may be sent at `now`, given when the codes of the last day were sent
 * (Unix ms, newest first): null when it may, otherwise the seconds until the first limit
 * reached lets one more through (when the oldest code in that window leaves it).
 */
export function sendRetryAfter(sentTimes: readonly number[], now: number, limits: readonly SendLimit[] = SEND_LIMITS): number | null {
  for (const limit of limits) {
    const inWindow = sentTimes.filter((t) => t > now - limit.windowMs);
    if (inWindow.length >= limit.max) return (inWindow[inWindow.length - 1]! + limit.windowMs - now) / 1000;
  }
  return null;
}
