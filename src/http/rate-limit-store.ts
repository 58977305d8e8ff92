import { lt } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { addToCounters } from '../db/counters.js';
import { rateCounters } from '../db/schema.js';
import type { Logger } from '../log.js';

type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

/** How often the hits counted here are added to the shared counters. */
const FLUSH_MS = 250;
/** Addresses tracked at once in one process (a flood from many addresses must not grow memory without bound). */
const MAX_TRACKED = 50_000;

/** The map key of an address's window (its bucket cut to the column's 160 characters). */
const idOf = (bucket: string, windowStart: number) => `${bucket}\u0000${windowStart}`;

interface Tracked {
  bucket: string;
  windowStart: number;
  windowEnd: number;
  /** The shared count when last read (every replica's hits). */
  known: number;
  /** Hits counted here and not yet added to the shared count. */
  pending: number;
}

/**
 * A store for @fastify/rate-limit that keeps fixed-window counters in the database, so that
 * every replica counts against the same limit.
 *
 * A statement per request made the limiter the dearest part of a cached page (issue 5: records
 * at 0.48× the baseline with the limiter on, against 2× without). So the first request of an
 * address in a window asks the database (and learns what the other replicas counted); the
 * following ones are counted here and added to the database every 250 ms in one statement,
 * which also brings back the other replicas' counts. A replica may let through what the others
 * counted in the last 250 ms: for a limit per minute, a few requests. When the database cannot
 * be reached the local count still limits, and the hits are added once it is back.
 */
export function databaseRateLimitStore(deps: { database: Database; logger: Logger; now: () => number; onClose?: (hook: () => Promise<void>) => void }) {
  const tracked = new Map<string, Tracked>();
  let timer: NodeJS.Timeout | null = null;
  let lastSweep = 0;
  let closed = false;
  // The app closes before its database: the last hits are saved, and nothing is scheduled after.
  deps.onClose?.(async () => {
    closed = true;
    if (timer) clearTimeout(timer);
    timer = null;
    await flush();
  });

  async function flush(): Promise<void> {
    timer = null;
    const now = deps.now();
    const batch: Tracked[] = [];
    for (const [id, t] of tracked) {
      if (t.pending > 0) batch.push(t);
      else if (t.windowEnd <= now) tracked.delete(id);
    }
    if (batch.length === 0) return;
    const amounts = batch.map((t) => t.pending);
    batch.forEach((t) => (t.pending = 0));
    try {
      const rows = await addToCounters(
        deps.database,
        batch.map((t, i) => ({ bucket: t.bucket, windowStart: t.windowStart, by: amounts[i]! })),
      );
      const hits = new Map(rows.map((r) => [idOf(r.bucket, r.windowStart), r.hits]));
      for (const t of batch) t.known = Math.max(t.known, hits.get(idOf(t.bucket, t.windowStart)) ?? t.known);
    } catch (err) {
      // Counted again at the next flush; meanwhile the local count still limits.
      batch.forEach((t, i) => (t.pending += amounts[i]!));
      deps.logger.warn({ err }, 'rate limit counters not saved; retrying');
      schedule();
    }
    // Windows over are of no use (the SMS caps key their rows by the window's END, so theirs go
    // only once over too).
    const windowMs = Math.max(...batch.map((t) => t.windowEnd - t.windowStart));
    if (now - lastSweep > windowMs) {
      lastSweep = now;
      void deps.database.db
        .delete(rateCounters)
        .where(lt(rateCounters.windowStart, now - 2 * windowMs))
        .catch((err: unknown) => deps.logger.warn({ err }, 'rate counter sweep failed'));
    }
  }

  function schedule(): void {
    if (timer || closed) return;
    timer = setTimeout(() => void flush(), FLUSH_MS);
    timer.unref();
  }

  async function hit(key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
    const now = deps.now();
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const ttl = windowStart + windowMs - now;
    const bucket = key.slice(0, 160);
    const id = idOf(bucket, windowStart);
    const known = tracked.get(id);
    if (known) {
      known.pending++;
      schedule();
      return { current: known.known + known.pending, ttl };
    }
    if (tracked.size >= MAX_TRACKED) {
      const oldest = tracked.keys().next().value as string;
      const t = tracked.get(oldest)!;
      tracked.delete(oldest);
      if (t.pending > 0) void addToCounters(deps.database, [{ bucket: t.bucket, windowStart: t.windowStart, by: t.pending }]).catch(() => undefined);
    }
    // First request of this address in this window here: the shared count, with this hit.
    const t: Tracked = { bucket, windowStart, windowEnd: windowStart + windowMs, known: 0, pending: 0 };
    tracked.set(id, t);
    try {
      const [row] = await addToCounters(deps.database, [{ bucket, windowStart }]);
      t.known = Math.max(t.known, row?.hits ?? 1);
    } catch (err) {
      // The database cannot be reached: counted here only (and added once it is back).
      deps.logger.warn({ err }, 'rate limit store unavailable: counted here only');
      t.pending++;
      schedule();
    }
    return { current: t.known + t.pending, ttl };
  }

  return class DatabaseStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      hit(key, timeWindow).then(
        (res) => cb(null, res),
        // Not the database (hit() counts here when it is down): a bug; the request is let through.
        (err: unknown) => {
          deps.logger.error({ err }, 'rate limit store failed: request let through');
          cb(null, { current: 0, ttl: timeWindow });
        },
      );
    }
    child(): DatabaseStore {
      return this;
    }
  };
}
