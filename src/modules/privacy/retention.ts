import { and, like, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { idempotencyKeys, ledgerExports, rateCounters, smsCodes } from '../../db/schema.js';
import type { Logger } from '../../log.js';
import { applyWindowRepo } from '../applications/repo/windows.js';
import { privacyRepo } from './repo.js';

export interface RetentionOptions {
  /** Days after a visit window ends before its record goes. */
  days: number;
  sweepIntervalSeconds: number;
  /** Records deleted per statement: short transactions, so a big backlog never locks the table for long. */
  batchSize: number;
  /** Hours a visit-ledger export (its file in the database) is kept; default 24. */
  exportKeepHours?: number;
}

export interface RetentionResult {
  applications: number;
  smsCodes: number;
  idempotencyKeys: number;
  counters: number;
  applyWindows: number;
  ledgerExports: number;
}

export interface RetentionSweeper {
  /** One full sweep now (also what the timer runs); returns what it deleted. */
  sweep(): Promise<RetentionResult>;
  stop(): Promise<void>;
}

/** Any constant: replicas taking turns on the sweep (pg_try_advisory_xact_lock). */
const LOCK_KEY = 0x1a1f_0006;

/**
 * PIPL retention: a visit record, its people (host, visitor, companions) and its
 * notifications — payloads carry names and phones — are deleted `days` after the visit window
 * ends (`application_people` and `notifications` go with the record, ON DELETE CASCADE). Spent
 * SMS codes, idempotency keys (whose stored answers contain the record) and SMS cap counters go
 * once they are of no use.
 *
 * A sweep runs at start and every `sweepIntervalSeconds`: the state is the database itself, so
 * a restart loses nothing (the next sweep catches up) and nothing needs scheduling. Each batch
 * is its own short transaction under a transaction-level advisory lock, so two replicas never
 * sweep the same rows and a backlog of a million records never holds a lock for long. Batches
 * walk the primary key from the oldest id: old records have small ids, so no extra index on
 * `end_time` is needed.
 */
export function startRetention(deps: {
  database: Database;
  logger: Logger;
  now: () => number;
  options: RetentionOptions;
  autoStart?: boolean;
}): RetentionSweeper {
  const { db } = deps.database;
  const { days, batchSize } = deps.options;
  let running: Promise<RetentionResult> | null = null;
  let stopped = false;

  const batchOfApplications = (cutoffSeconds: number) => privacyRepo.deleteExpiredBatch(db, cutoffSeconds, batchSize, LOCK_KEY);

  async function sweepOnce(): Promise<RetentionResult> {
    const nowMs = deps.now();
    const cutoffSeconds = Math.floor(nowMs / 1000) - days * 86_400;
    const result: RetentionResult = { applications: 0, smsCodes: 0, idempotencyKeys: 0, counters: 0, applyWindows: 0, ledgerExports: 0 };
    for (;;) {
      if (stopped) break;
      const n = await batchOfApplications(cutoffSeconds);
      if (n === null) break; // another replica is sweeping
      result.applications += n;
      if (n < batchSize) break;
    }
    // Codes count towards a phone's daily limit; after two days they are of no use.
    const twoDaysAgo = new Date(nowMs - 2 * 86_400_000);
    result.smsCodes = (await db.delete(smsCodes).where(lt(smsCodes.createdAt, twoDaysAgo)).returning({ id: smsCodes.id })).length;
    // Keys live 24 hours (§3.7); their stored answers hold the record.
    result.idempotencyKeys = (await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, twoDaysAgo)).returning({ k: idempotencyKeys.key })).length;
    // SMS cap windows are keyed by their end (modules/sms-guard): over ones go.
    result.counters = (
      await db
        .delete(rateCounters)
        .where(and(like(rateCounters.bucket, 'sms:%'), lt(rateCounters.windowStart, nowMs)))
        .returning({ b: rateCounters.bucket })
    ).length;
    // Hourly application windows with nothing of the last hour (modules/applications).
    result.applyWindows = await applyWindowRepo.sweep(deps.database, Math.floor(nowMs / 1000));
    // Ledger exports (names and phones of many visits): their pieces go with them (cascade).
    const exportCutoff = Math.floor(nowMs / 1000) - (deps.options.exportKeepHours ?? 24) * 3600;
    result.ledgerExports = (await db.delete(ledgerExports).where(lt(ledgerExports.createdAt, exportCutoff)).returning({ id: ledgerExports.id })).length;
    if (result.applications > 0) deps.logger.info({ ...result, retentionDays: days }, 'retention sweep deleted expired visit records');
    return result;
  }

  function sweep(): Promise<RetentionResult> {
    running ??= sweepOnce().finally(() => {
      running = null;
    });
    return running;
  }

  const timer = deps.autoStart === false ? null : scheduleSweeps(sweep, deps.logger, deps.options.sweepIntervalSeconds, () => stopped);

  return {
    sweep,
    async stop() {
      stopped = true;
      timer?.stop();
      await running?.catch(() => undefined);
    },
  };
}

/**
 * Runs `sweep` a few seconds after start (not in the start-up path) and then every
 * `intervalSeconds` after the last one ended, until `stopped()`.
 */
function scheduleSweeps(sweep: () => Promise<unknown>, logger: Logger, intervalSeconds: number, stopped: () => boolean): { stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  const tick = () => {
    sweep()
      .catch((err: unknown) => logger.warn({ err }, 'retention sweep failed; the next one retries'))
      .finally(() => {
        if (!stopped()) timer = setTimeout(tick, intervalSeconds * 1000).unref();
      });
  };
  timer = setTimeout(tick, Math.min(5, intervalSeconds) * 1000).unref();
  return {
    stop() {
      if (timer) clearTimeout(timer);
    },
  };
}
