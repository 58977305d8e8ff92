import type PgBoss from 'pg-boss';
import type { KoalaPort } from '../../adapters/koala/port.js';
import type { Database, SqlExecutor } from '../../db/client.js';
import type { Queue } from '../../db/queue.js';
import type { Logger } from '../../log.js';
import { backoffSeconds, failureReason } from '../../retry.js';
import { createKoalaWrites, type KoalaWrites, type Outcome } from './koala-writes.js';

export const KOALA_SYNC_QUEUE = 'koala-sync';

/**
 * `subjectId` (deletes only): the Koala subject as known when the job was queued, so that it is
 * still deleted if the pass row is gone by then (its application deleted).
 */
export type KoalaSyncJob = { passId: number; op: 'create' | 'delete'; subjectId?: number; /** 1 for the first job of a write. */ attempt?: number };

export interface KoalaSyncDeps {
  database: Database;
  queue: Queue;
  koala: KoalaPort;
  logger: Logger;
  now: () => number;
  pollingIntervalSeconds: number;
  /** First retry delay; doubles per attempt up to maxRetryDelaySeconds. */
  retryDelaySeconds: number;
  maxRetryDelaySeconds: number;
  /** Attempts at creating a visitor before giving up (deleting is never given up). */
  createRetryLimit: number;
  /** How long one writer holds a pass while it calls Koala (longer than a Koala call can take). */
  leaseSeconds: number;
  expireInSeconds: number;
}

export interface KoalaSync {
  /** Queues jobs inside the caller's transaction (`delaySeconds`: not before then). */
  enqueue(executor: SqlExecutor, jobs: KoalaSyncJob[], delaySeconds?: number): Promise<void>;
  /**
   * Creates the Koala visitor of each pass now, if no other writer holds it; failures are left
   * to the queued job. Used by the sign-in request so that its answer usually has subject ids.
   */
  createNow(passIds: number[]): Promise<void>;
  /**
   * Resolves at the next job attempt that finishes and that `match` accepts (registered before
   * that attempt finishes). What tests wait on instead of on time: "the job ran and found
   * nothing to do" is an event here, not a guess about how long it takes.
   */
  attemptFinished(match: (attempt: FinishedAttempt) => boolean): Promise<FinishedAttempt>;
  stop(): Promise<void>;
}

/**
 * One finished job attempt: `done` (nothing left to do), `retry` (the next attempt is queued),
 * `gave-up` (a visitor that could not be created), `failed` (an error of ours: pg-boss retries it).
 */
export interface FinishedAttempt {
  job: KoalaSyncJob;
  outcome: 'done' | 'retry' | 'gave-up' | 'failed';
}

/**
 * Creates (or updates the policy of) the Koala queue. Runtime calls it inside the start-up lock
 * with pg-boss's own set-up (Database.serialized): creating a queue is DDL on pg-boss's job
 * table, and workers starting together on a new database deadlock when one creates it while
 * another is already working its queues.
 */
export async function ensureKoalaSyncQueue(boss: PgBoss, opts: { retryDelaySeconds: number; expireInSeconds: number }): Promise<void> {
  const policy = { name: KOALA_SYNC_QUEUE, retryLimit: 5, retryDelay: opts.retryDelaySeconds, retryBackoff: true, expireInSeconds: opts.expireInSeconds };
  await boss.createQueue(KOALA_SYNC_QUEUE, policy);
  await boss.updateQueue(KOALA_SYNC_QUEUE, policy as Parameters<PgBoss['updateQueue']>[1]);
}

/**
 * Writes visitors to Koala and deletes them, so that neither a Koala outage at sign-in nor one at
 * check-out loses a change: the job is queued in the same transaction as the sign-in or
 * check-out, and each attempt that fails queues the next one after a capped exponential back-off
 * (like the notification worker; pg-boss's own back-off has no ceiling). Deleting is retried
 * until it succeeds: an expired visitor's face must not stay in the access system.
 */
export async function startKoalaSync(deps: KoalaSyncDeps): Promise<KoalaSync> {
  const { logger, database } = deps;
  const boss = deps.queue.boss;
  const enqueue = (executor: SqlExecutor, jobs: KoalaSyncJob[], delaySeconds?: number) => insertJobs(boss, executor, jobs, delaySeconds);
  const writes = createKoalaWrites({
    db: database.db,
    koala: deps.koala,
    logger,
    now: deps.now,
    leaseSeconds: deps.leaseSeconds,
    createRetryLimit: deps.createRetryLimit,
    backoff: (attempts) => backoffSeconds(attempts, deps.retryDelaySeconds, deps.maxRetryDelaySeconds),
    deleteLater: (passId) => enqueue(database.executor, [{ passId, op: 'delete' }]),
  });
  const attempts = attemptWaiters();

  let inFlight = 0;
  await boss.work<KoalaSyncJob>(
    KOALA_SYNC_QUEUE,
    { batchSize: 20, pollingIntervalSeconds: deps.pollingIntervalSeconds, includeMetadata: true },
    async (jobs) => {
      inFlight++;
      try {
        await Promise.all(
          jobs.map(async (job) => {
            let outcome: FinishedAttempt['outcome'] = 'failed';
            try {
              outcome = await handle(writes, enqueue, database.executor, logger, job.data);
            } catch (err) {
              // A database hiccup: pg-boss retries this one job, not the batch.
              logger.warn({ err, passId: job.data.passId }, 'Koala sync job failed; pg-boss will retry it');
              await boss.fail(KOALA_SYNC_QUEUE, job.id, { message: failureReason(err) }).catch(() => undefined);
            }
            attempts.finished({ job: job.data, outcome });
          }),
        );
      } finally {
        inFlight--;
      }
    },
  );

  return {
    enqueue,
    async createNow(passIds) {
      await Promise.all(
        passIds.map((id) => writes.create(id).catch((err: unknown) => logger.warn({ err, passId: id }, 'Koala write at sign-in failed; the job will retry'))),
      );
    },
    attemptFinished: attempts.next,
    async stop() {
      await boss.offWork(KOALA_SYNC_QUEUE);
      await deps.queue.drain(() => inFlight > 0);
    },
  };
}

/** Queues jobs through `executor` (the caller's transaction, or none); `delaySeconds`: not before then. */
async function insertJobs(boss: PgBoss, executor: SqlExecutor, jobs: KoalaSyncJob[], delaySeconds?: number): Promise<void> {
  if (jobs.length === 0) return;
  // pg-boss reads a startAfter without a zone as an interval from the database's now().
  const startAfter = delaySeconds ? String(Math.max(1, Math.round(delaySeconds))) : undefined;
  await boss.insert(
    jobs.map((data) => ({ name: KOALA_SYNC_QUEUE, data, ...(startAfter ? { startAfter } : {}) })),
    { db: executor } as Parameters<PgBoss['insert']>[1],
  );
}

/** One job attempt: the write, then the next attempt queued (with its back-off) when one is due. */
async function handle(
  writes: KoalaWrites,
  enqueue: KoalaSync['enqueue'],
  executor: SqlExecutor,
  logger: Logger,
  job: KoalaSyncJob,
): Promise<FinishedAttempt['outcome']> {
  const { passId, op, subjectId, attempt = 1 } = job;
  const outcome: Outcome = op === 'create' ? await writes.create(passId) : await writes.remove(passId, subjectId, attempt);
  if (outcome === 'done') return 'done';
  if ('gaveUp' in outcome) {
    logger.error({ passId, op, reason: outcome.gaveUp }, 'Koala visitor could not be written; giving up');
    return 'gave-up';
  }
  logger.warn({ passId, op, retryInSeconds: Math.round(outcome.retryInSeconds), reason: outcome.reason }, 'Koala sync will retry');
  await enqueue(executor, [{ passId, op, ...(subjectId === undefined ? {} : { subjectId }), attempt: attempt + 1 }], outcome.retryInSeconds);
  return 'retry';
}

/** The waiters of attemptFinished: nothing is kept while nobody waits. */
function attemptWaiters() {
  const waiting = new Set<{ match: (a: FinishedAttempt) => boolean; resolve: (a: FinishedAttempt) => void }>();
  return {
    next(match: (a: FinishedAttempt) => boolean): Promise<FinishedAttempt> {
      return new Promise((resolve) => waiting.add({ match, resolve }));
    },
    finished(a: FinishedAttempt): void {
      for (const w of waiting) {
        let matches = false;
        try {
          matches = w.match(a);
        } catch {
          // A waiter's mistake is not the worker's: that waiter keeps waiting.
        }
        if (!matches) continue;
        waiting.delete(w);
        w.resolve(a);
      }
    },
  };
}
