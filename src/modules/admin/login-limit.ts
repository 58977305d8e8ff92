import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { adminRepo } from './repo.js';

/**
 * Admin login attempts, counted per username and per client address in 15-minute windows in
 * the shared `rate_counters` table (every replica sees the same counts). An attempt is counted
 * *before* the password is checked — one atomic increment — so a burst of parallel guesses
 * cannot slip past the limit; a successful login or a refused attempt takes its count back. 10 failures per
 * username and 30 per address: at most ~1,000 guesses a day against one account. The cost is
 * that somebody who knows a username can hold it locked for the window, which we accept for a
 * handful of admins.
 */
const WINDOW_MS = 15 * 60_000;
export const LOGIN_LIMITS = { perUsername: 10, perAddress: 30 } as const;

export function createLoginLimit(deps: { db: Db; now: () => number }) {
  const buckets = (username: string, address: string) => [
    { bucket: `admin-login:u:${username.toLowerCase()}`.slice(0, 160), max: LOGIN_LIMITS.perUsername },
    { bucket: `admin-login:a:${address}`.slice(0, 160), max: LOGIN_LIMITS.perAddress },
  ];
  const windowStart = () => Math.floor(deps.now() / WINDOW_MS) * WINDOW_MS;

  const limit = {
    /** Counts one attempt; throws RATE_LIMITED (429 with Retry-After) once either count is past its limit. */
    async attempt(username: string, address: string): Promise<void> {
      const start = windowStart();
      let over = false;
      for (const { bucket, max } of buckets(username, address)) {
        if ((await adminRepo.countAttempt(deps.db, bucket, start)) > max) over = true;
      }
      void adminRepo
        .dropOldWindows(
          deps.db,
          buckets(username, address).map((b) => b.bucket),
          start,
        )
        .catch(() => undefined);
      if (over) {
        // A refused attempt checks no password: it takes its count back, so the limits count
        // checked guesses only (and a locked username does not also lock its address).
        await limit.succeeded(username, address);
        const retryAfter = Math.ceil((start + WINDOW_MS - deps.now()) / 1000);
        throw new AppError('RATE_LIMITED', `登录失败次数过多，请 ${Math.ceil(retryAfter / 60)} 分钟后再试`, { retryAfter });
      }
    },
    /** A successful login (or a refused attempt) does not count against either limit. */
    async succeeded(username: string, address: string): Promise<void> {
      await adminRepo.takeBack(
        deps.db,
        buckets(username, address).map((b) => b.bucket),
        windowStart(),
      );
    },
  };
  return limit;
}
