import { lt } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { incrementCounters } from '../db/counters.js';
import { rateCounters } from '../db/schema.js';
import type { Logger } from '../log.js';

type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

/**
 * A store for @fastify/rate-limit that keeps fixed-window counters in the database, so that
 * every replica counts against the same limit. When the database cannot be reached the request
 * is let through (the limiter must not turn a database hiccup into an outage).
 */
export function databaseRateLimitStore(deps: { database: Database; logger: Logger; now: () => number }) {
  let lastSweep = 0;

  async function hit(key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
    const now = deps.now();
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const ttl = windowStart + windowMs - now;
    const bucket = key.slice(0, 160);
    const current = (await incrementCounters(deps.database, [{ bucket, windowStart }])).get(bucket) ?? 1;
    if (now - lastSweep > windowMs) {
      lastSweep = now;
      void deps.database.db
        .delete(rateCounters)
        .where(lt(rateCounters.windowStart, windowStart - windowMs))
        .catch((err: unknown) => deps.logger.warn({ err }, 'rate counter sweep failed'));
    }
    return { current, ttl };
  }

  return class DatabaseStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      hit(key, timeWindow).then(
        (res) => cb(null, res),
        (err: unknown) => {
          deps.logger.warn({ err }, 'rate limit store unavailable: request let through');
          cb(null, { current: 0, ttl: timeWindow });
        },
      );
    }
    child(): DatabaseStore {
      return this;
    }
  };
}
