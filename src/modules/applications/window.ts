import { AppError } from '../../errors.js';

export const HOUR_SECONDS = 3600;

/**
 * The hourly limit on a caller's window (the Unix seconds of its newest applications): with
 * `perHour` of them after `now - 1 h`, the caller waits until the oldest of those leaves the hour.
 * Answers the seconds to wait (at least 1: the seconds are whole), or null when the caller may
 * apply now. The statement that writes applications applies the same rule under the row's lock
 * (repo/create-applications.ts); this reads it for a refusal's Retry-After and for the cheap
 * check before a Koala lookup.
 */
export function retryAfter(appliedAt: readonly number[], now: number, perHour: number): number | null {
  const inHour = appliedAt.filter((t) => t > now - HOUR_SECONDS).sort((x, y) => x - y);
  if (inHour.length < perHour) return null;
  return inHour[inHour.length - perHour]! + HOUR_SECONDS - now;
}

/** The 429 of the hourly limit. */
export function rateLimited(perHour: number, retryAfterSeconds: number): AppError {
  return new AppError('RATE_LIMITED', `每小时最多提交 ${perHour} 个申请，请稍后再试`, { retryAfter: retryAfterSeconds });
}
