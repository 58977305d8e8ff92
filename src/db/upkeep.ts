import type { Database } from './client.js';
import type { Logger } from '../log.js';

/**
 * Table upkeep. The outbox and counter tables are rewritten all day: a notification
 * row is inserted, claimed and recorded; counters are upserted per request; Koala visitor jobs
 * are pg-boss rows. Each change leaves a dead row version and dead index entries until VACUUM.
 * PostgreSQL's autovacuum visits a table at most once a minute, and only once a fifth of it is
 * dead; a claim walking dead entries of its partial index pays for each (measured when every
 * message was a pg-boss job: 8.5 ms per fetch with 110k dead job rows, 0.08 ms after a VACUUM).
 *
 * The application tables are inserted into all day and rarely changed: what a VACUUM does for
 * them is mark their newest pages all-visible, so that the index-only scans that read a phone's
 * recent entries (the hourly limit in POST /v1/subject, a record list's keys and count) stop
 * visiting the table for each of them. Autovacuum would wait for a fifth of the table to be new.
 * Measured at 1M applications: POST at 592 → 939 applications/s (no sending) once the callers'
 * last hour was all-visible; a VACUUM of those tables after a 10 s run took 0.06 s.
 *
 * PGlite (embedded) runs no autovacuum at all: one process, no background workers.
 *
 * So: the hot tables are vacuumed every `hotSeconds` (plain VACUUM: no exclusive lock, readers
 * and writers go on; pages already all-visible are skipped); on PGlite the whole database is
 * also vacuumed and analyzed every `allSeconds`. On PostgreSQL one replica at a time does it
 * (the others skip that round).
 */
export const HOT_TABLES = ['notifications', 'rate_counters', 'pgboss.job', 'applications', 'application_people', 'apply_windows'] as const;

export interface Upkeep {
  /** One round now (the timer's work); resolves with the tables vacuumed ([] when another replica had the turn). */
  run(opts?: { all?: boolean }): Promise<string[]>;
  stop(): Promise<void>;
}

export function startUpkeep(deps: { database: Database; logger: Logger; hotSeconds?: number; allSeconds?: number; autoStart?: boolean }): Upkeep {
  const hotMs = (deps.hotSeconds ?? 15) * 1000;
  const allMs = (deps.allSeconds ?? 900) * 1000;
  let running: Promise<string[]> | null = null;
  let stopped = false;
  let lastAll = Date.now();

  const run = (opts: { all?: boolean } = {}): Promise<string[]> => {
    if (running) return running;
    const all = opts.all ?? (deps.database.kind === 'pglite' && Date.now() - lastAll >= allMs);
    running = (async () => {
      try {
        const done = await deps.database.vacuum(all ? null : [...HOT_TABLES]);
        if (all) lastAll = Date.now();
        return done;
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const timer =
    deps.autoStart === false
      ? null
      : setInterval(() => {
          if (stopped || running) return;
          run().catch((err: unknown) => deps.logger.warn({ err }, 'table upkeep (VACUUM) failed; retrying at the next round'));
        }, hotMs);
  timer?.unref();
  return {
    run,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
