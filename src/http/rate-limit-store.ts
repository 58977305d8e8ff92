import { lt } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { addToCounters } from '../db/counters.js';
import { rateCounters } from '../db/schema.js';
import type { Logger } from '../log.js';

type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

interface StoreDeps {
  database: Database;
  logger: Logger;
  now: () => number;
  /** Registers a hook run when the app closes (before its database does). */
  onClose?: (hook: () => Promise<void>) => void;
}

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

/** The windows with hits to add; windows over with none are forgotten. */
function takePending(tracked: Map<string, Tracked>, now: number): Tracked[] {
  const batch: Tracked[] = [];
  for (const [id, t] of tracked) {
    if (t.pending > 0) batch.push(t);
    else if (t.windowEnd <= now) tracked.delete(id);
  }
  return batch;
}

/**
 * Adds the batch's pending hits to the shared counters in one statement and learns every
 * replica's counts from its answer. False when the database failed: the hits stay pending (the
 * local count still limits meanwhile) and are added at a later flush.
 */
async function addPending(deps: StoreDeps, batch: Tracked[]): Promise<boolean> {
  const amounts = batch.map((t) => t.pending);
  batch.forEach((t) => (t.pending = 0));
  try {
    const rows = await addToCounters(
      deps.database,
      batch.map((t, i) => ({ bucket: t.bucket, windowStart: t.windowStart, by: amounts[i]! })),
    );
    const hits = new Map(rows.map((r) => [idOf(r.bucket, r.windowStart), r.hits]));
    for (const t of batch) t.known = Math.max(t.known, hits.get(idOf(t.bucket, t.windowStart)) ?? t.known);
    return true;
  } catch (err) {
    batch.forEach((t, i) => (t.pending += amounts[i]!));
    deps.logger.warn({ err }, 'rate limit counters not saved; retrying');
    return false;
  }
}

/**
 * Deletes the shared counters of windows long over, at most once a window: they are of no use.
 * The SMS caps key their rows by the window's END, so theirs go only once over too.
 */
function counterSweeper(deps: StoreDeps): (now: number, windowMs: number) => void {
  let lastSweep = 0;
  return (now, windowMs) => {
    if (now - lastSweep <= windowMs) return;
    lastSweep = now;
    void deps.database.db
      .delete(rateCounters)
      .where(lt(rateCounters.windowStart, now - 2 * windowMs))
      .catch((err: unknown) => deps.logger.warn({ err }, 'rate counter sweep failed'));
  };
}

/** Makes room for one more address: the oldest tracked one is dropped, its pending hits added on the way out. */
function evictOldest(deps: StoreDeps, tracked: Map<string, Tracked>): void {
  const oldest = tracked.keys().next().value as string;
  const t = tracked.get(oldest)!;
  tracked.delete(oldest);
  if (t.pending > 0) void addToCounters(deps.database, [{ bucket: t.bucket, windowStart: t.windowStart, by: t.pending }]).catch(() => undefined);
}

/**
 * The counts of this process: the first hit of an address in a window asks the database (with
 * that hit added), the following ones are counted here and added every FLUSH_MS.
 */
function windowCounts(deps: StoreDeps) {
  const tracked = new Map<string, Tracked>();
  const sweep = counterSweeper(deps);
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  async function flush(): Promise<void> {
    timer = null;
    const now = deps.now();
    const batch = takePending(tracked, now);
    if (batch.length === 0) return;
    if (!(await addPending(deps, batch))) schedule();
    sweep(now, Math.max(...batch.map((t) => t.windowEnd - t.windowStart)));
  }

  function schedule(): void {
    if (timer || closed) return;
    timer = setTimeout(() => void flush(), FLUSH_MS);
    timer.unref();
  }

  /** The first request of an address in a window here: the shared count, with this hit. */
  async function first(bucket: string, windowStart: number, windowMs: number): Promise<Tracked> {
    if (tracked.size >= MAX_TRACKED) evictOldest(deps, tracked);
    const t: Tracked = { bucket, windowStart, windowEnd: windowStart + windowMs, known: 0, pending: 0 };
    tracked.set(idOf(bucket, windowStart), t);
    try {
      const [row] = await addToCounters(deps.database, [{ bucket, windowStart }]);
      t.known = Math.max(t.known, row?.hits ?? 1);
    } catch (err) {
      // The database cannot be reached: counted here only (and added once it is back).
      deps.logger.warn({ err }, 'rate limit store unavailable: counted here only');
      t.pending++;
      schedule();
    }
    return t;
  }

  return {
    async hit(key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
      const now = deps.now();
      const windowStart = Math.floor(now / windowMs) * windowMs;
      const ttl = windowStart + windowMs - now;
      const bucket = key.slice(0, 160);
      let t = tracked.get(idOf(bucket, windowStart));
      if (t) {
        t.pending++;
        schedule();
      } else t = await first(bucket, windowStart, windowMs);
      return { current: t.known + t.pending, ttl };
    },
    /** The last hits are saved, and nothing is scheduled after. */
    async close(): Promise<void> {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await flush();
    },
  };
}

/**
 * A store for @fastify/rate-limit that keeps fixed-window counters in the database, so that
 * every replica counts against the same limit.
 *
 * A statement per request would make the limiter the dearest part of a cached page. So the
 * first request of an address in a window asks the database (and learns what the other replicas
 * counted); the following ones are counted here and added to the database every 250 ms in one
 * statement, which also brings back the other replicas' counts. A replica may let through what
 * the others counted in the last 250 ms: for a limit per minute, a few requests. When the
 * database cannot be reached the local count still limits, and the hits are added once it is
 * back. The counts are summed per window on a timer rather than through db/batcher.ts because a
 * hit is answered at once from the local count and waits for no statement: what is flushed is
 * a sum per window, not a queue of items each awaiting its own result.
 */
export function databaseRateLimitStore(deps: StoreDeps) {
  const counts = windowCounts(deps);
  // The app closes before its database.
  deps.onClose?.(() => counts.close());

  return class DatabaseStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      counts.hit(key, timeWindow).then(
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
