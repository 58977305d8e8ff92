import type { Database, Statement } from './client.js';

/**
 * Adds to (bucket, window) counters in `rate_counters` and answers the new counts: one named
 * statement, auto-committed (never inside a transaction: it takes none).
 *
 * Its commit does not wait for the WAL to reach the disk (`synchronous_commit` off for this
 * transaction only, set by the statement itself). A counter row can be shared by every request
 * (the global SMS cap's row is), and its lock is held until the commit: a synchronous commit
 * would make each holder wait for a disk flush (about a millisecond), which serialises every SMS
 * of every replica behind the disk. A crash of PostgreSQL may lose the last fraction of a second
 * of increments: a cap may let that many more through. Never anything else: nothing but counters
 * is written this way.
 */
const INCREMENT: Statement = {
  name: 'laifang_counters_add',
  text: `with async_commit as (select set_config('synchronous_commit', 'off', true))
insert into rate_counters (bucket, window_start, hits)
select v.bucket, v.window_start, v.n from unnest($1::text[], $2::bigint[], $3::int[]) as v(bucket, window_start, n), async_commit
on conflict (bucket, window_start) do update set hits = rate_counters.hits + excluded.hits
returning bucket, window_start, hits`,
};

export interface CounterHits {
  bucket: string;
  windowStart: number;
  hits: number;
}

/** Adds `by` (default 1) to each (bucket, window) counter; answers every counter's new count. */
export async function addToCounters(database: Database, counters: ReadonlyArray<{ bucket: string; windowStart: number; by?: number }>): Promise<CounterHits[]> {
  const rows = await database.query<{ bucket: string; window_start: string | number; hits: number }>(INCREMENT, [
    counters.map((c) => c.bucket.slice(0, 160)),
    counters.map((c) => c.windowStart),
    counters.map((c) => c.by ?? 1),
  ]);
  return rows.map((r) => ({ bucket: r.bucket, windowStart: Number(r.window_start), hits: Number(r.hits) }));
}

/** Adds one to each counter (distinct buckets) and answers the new counts by bucket. */
export async function incrementCounters(database: Database, counters: ReadonlyArray<{ bucket: string; windowStart: number }>): Promise<Map<string, number>> {
  return new Map((await addToCounters(database, counters)).map((r) => [r.bucket, r.hits]));
}
