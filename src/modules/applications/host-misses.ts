import { createHmac } from 'node:crypto';
import type { Database } from '../../db/client.js';
import { addToCounters } from '../../db/counters.js';
import { AppError } from '../../errors.js';

export interface HostMissLimits {
  /** Lookups of a host Koala does not confirm, per WeChat user an hour. */
  perCallerPerHour: number;
  /** The same per client address; 0: no limit. */
  perAddressPerHour: number;
}

export interface HostMisses {
  /**
   * Counts a host lookup as a miss BEFORE Koala is asked (so a burst of parallel tries cannot
   * slip past), or throws RATE_LIMITED (429, Retry-After) when the caller or its address is at
   * its limit. Answers the function that takes the count back: the host was found, or nobody
   * could tell (Koala down).
   */
  count(caller: { weixinUserId: string; address?: string }): Promise<() => Promise<void>>;
}

const HOUR = 3_600_000;
/** Delays between tries of a count taken back while the database is away: about a minute in all. */
const GIVE_BACK_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 16000, 30000];

/**
 * Takes a count back. A database that goes away between the count and its taking back would
 * otherwise leave a miss nobody made, and a visitor who applied during an outage would find
 * the limit spent: the taking back is tried again, in the background, for about a minute, so
 * the request that met the outage answers at once. Only a process that ends meanwhile, or a
 * database crash that loses the last uncommitted fraction of a second, leaves one behind.
 */
async function giveBack(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch {
    const retry = (i: number) => {
      const delay = GIVE_BACK_DELAYS_MS[i];
      if (delay === undefined) return;
      setTimeout(() => void run().catch(() => retry(i + 1)), delay).unref();
    };
    retry(0);
  }
}

/**
 * A visitor request names its host by name and phone, and 404 against 200 says whether the pair
 * is a member of staff: unlimited, that is a way to find a staff member's phone. Misses are
 * counted per WeChat user and per address in fixed hours in `rate_counters` (every replica
 * sees them; keyed hashes only, rows keyed by their hour's END so that the request limiter's
 * sweep of old minute windows leaves them alone while they count).
 */
export function createHostMisses(deps: { database: Database; secret: string; limits: HostMissLimits; now: () => number }): HostMisses {
  const key = createHmac('sha256', deps.secret).update('laifang/host-miss/v1').digest();
  const tag = (kind: string, value: string) => createHmac('sha256', key).update(`${kind}:${value}`).digest('base64url').slice(0, 22);
  return {
    async count(caller) {
      const now = deps.now();
      const end = (Math.floor(now / HOUR) + 1) * HOUR;
      const scopes = [{ bucket: `host-miss:u:${tag('u', caller.weixinUserId)}`, max: deps.limits.perCallerPerHour }];
      if (deps.limits.perAddressPerHour > 0 && caller.address)
        scopes.push({ bucket: `host-miss:a:${tag('a', caller.address)}`, max: deps.limits.perAddressPerHour });
      const counters = scopes.map((s) => ({ bucket: s.bucket, windowStart: end }));
      const hits = new Map((await addToCounters(deps.database, counters)).map((r) => [r.bucket, r.hits]));
      const takeBack = () =>
        giveBack(() =>
          addToCounters(
            deps.database,
            counters.map((c) => ({ ...c, by: -1 })),
          ),
        );
      if (scopes.some((s) => (hits.get(s.bucket) ?? 0) > s.max)) {
        // Refused before Koala is asked: not a lookup, so not a miss.
        await takeBack();
        const retryAfter = Math.ceil((end - now) / 1000);
        throw new AppError('RATE_LIMITED', `核对被访人失败的次数过多，请 ${Math.ceil(retryAfter / 60)} 分钟后再试`, { retryAfter });
      }
      return takeBack;
    },
  };
}
