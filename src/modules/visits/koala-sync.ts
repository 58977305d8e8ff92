import { and, eq, isNull, or, lt, sql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { KoalaPort } from '../../adapters/koala/port.js';
import type { Database, SqlExecutor } from '../../db/client.js';
import { applications, visitPasses } from '../../db/schema.js';
import type { Logger } from '../../log.js';
import type { Queue } from '../../db/queue.js';
import { backoffSeconds, failureReason } from '../../retry.js';

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
  stop(): Promise<void>;
}

type Outcome = 'done' | { retryInSeconds: number; reason: string } | { gaveUp: string };

/**
 * Creates (or updates the policy of) the Koala queue. Runtime calls it inside the start-up lock
 * with pg-boss's own set-up (Database.serialized): creating a queue is DDL on pg-boss's job
 * table, and workers starting together on a new database deadlocked when one created it while
 * another was already working its queues.
 */
export async function ensureKoalaSyncQueue(boss: PgBoss, opts: { retryDelaySeconds: number; expireInSeconds: number }): Promise<void> {
  const policy = { name: KOALA_SYNC_QUEUE, retryLimit: 5, retryDelay: opts.retryDelaySeconds, retryBackoff: true, expireInSeconds: opts.expireInSeconds };
  await boss.createQueue(KOALA_SYNC_QUEUE, policy);
  await boss.updateQueue(KOALA_SYNC_QUEUE, policy as Parameters<PgBoss['updateQueue']>[1]);
}

/**
 * Writes visitors to Koala and deletes them (issue 3), so that neither a Koala outage at sign-in
 * nor one at check-out loses a change: the job is queued in the same transaction as the
 * sign-in or check-out, and each attempt that fails queues the next one after a capped
 * exponential back-off (like the notification worker; pg-boss's own back-off has no ceiling).
 * A pass row is the record of where its Koala subject stands (subject_id, subject_deleted_at),
 * so a redelivered job does nothing twice. Deleting is retried until it succeeds: an expired
 * visitor's face must not stay in the access system.
 */
export async function startKoalaSync(deps: KoalaSyncDeps): Promise<KoalaSync> {
  const { logger, database } = deps;
  const { db } = database;
  const boss = deps.queue.boss;
  const nowSeconds = () => Math.floor(deps.now() / 1000);

  const backoff = (attempts: number) => backoffSeconds(attempts, deps.retryDelaySeconds, deps.maxRetryDelaySeconds);

  async function enqueue(executor: SqlExecutor, jobs: KoalaSyncJob[], delaySeconds?: number): Promise<void> {
    if (jobs.length === 0) return;
    // pg-boss reads a startAfter without a zone as an interval from the database's now().
    const startAfter = delaySeconds ? String(Math.max(1, Math.round(delaySeconds))) : undefined;
    await boss.insert(
      jobs.map((data) => ({ name: KOALA_SYNC_QUEUE, data, ...(startAfter ? { startAfter } : {}) })),
      { db: executor } as Parameters<PgBoss['insert']>[1],
    );
  }

  /** Another writer holds the pass: look again when its lease ends, or within 5 s (it may finish early). */
  const heldElsewhere = (leaseUntil: number | null): Outcome => ({
    retryInSeconds: Math.min(5, Math.max(1, (leaseUntil ?? 0) - nowSeconds() + 1)),
    reason: 'another writer holds the pass',
  });

  /** Takes the pass for one Koala write: only one writer (request or job, any replica) at a time. */
  async function lease(passId: number, extra = sql`true`) {
    const now = nowSeconds();
    const [row] = await db
      .update(visitPasses)
      .set({ koalaLeaseUntil: now + deps.leaseSeconds, koalaAttempts: sql`${visitPasses.koalaAttempts} + 1` })
      .where(and(eq(visitPasses.id, passId), or(isNull(visitPasses.koalaLeaseUntil), lt(visitPasses.koalaLeaseUntil, now)), extra))
      .returning();
    return row ?? null;
  }

  async function release(passId: number, set: Partial<typeof visitPasses.$inferInsert>) {
    const [row] = await db
      .update(visitPasses)
      .set({ koalaLeaseUntil: null, ...set })
      .where(eq(visitPasses.id, passId))
      .returning({ revokedAt: visitPasses.revokedAt, subjectId: visitPasses.subjectId });
    return row ?? null;
  }

  /** The visitor an earlier attempt created for this pass, if any; extra copies are deleted. */
  async function landedBefore(pass: typeof visitPasses.$inferSelect, remark: string, start: number, end: number): Promise<number | null> {
    const found = (await deps.koala.findVisitors(pass.name)).filter(
      (v) => v.phone === pass.phone && v.remark === remark && v.startTime === start && v.endTime === end,
    );
    if (found.length === 0) return null;
    const [keep, ...extra] = found.sort((x, y) => x.subjectId - y.subjectId);
    for (const v of extra) await deps.koala.deleteSubject(v.subjectId);
    logger.info({ passId: pass.id, subjectId: keep!.subjectId }, 'adopted a Koala visitor an earlier attempt had created');
    return keep!.subjectId;
  }

  async function create(passId: number): Promise<Outcome> {
    const pass = await lease(passId, and(isNull(visitPasses.subjectId), isNull(visitPasses.revokedAt))!);
    if (!pass) {
      const current = await db.select().from(visitPasses).where(eq(visitPasses.id, passId)).limit(1);
      const row = current[0];
      if (!row || row.subjectId !== null || row.revokedAt !== null) return 'done';
      // Another writer holds it: look again once its lease has run out (it may fail).
      return heldElsewhere(row.koalaLeaseUntil);
    }
    const [visit] = await db.select().from(applications).where(eq(applications.id, pass.applicationId)).limit(1);
    if (!visit || visit.endTime <= nowSeconds()) {
      await release(passId, { koalaError: 'window over before Koala could be written' });
      return 'done';
    }
    const remark = `来访 #${visit.id}`;
    let subjectId: number;
    try {
      // An earlier attempt may have created the visitor and lost the answer (a timeout after
      // Koala committed): adopt what it made instead of creating a second one.
      const earlier = pass.koalaAttempts > 1 ? await landedBefore(pass, remark, visit.startTime, visit.endTime) : null;
      subjectId =
        earlier ??
        (await deps.koala.createVisitor({
          name: pass.name,
          phone: pass.phone,
          startTime: visit.startTime,
          endTime: visit.endTime,
          interviewee: visit.interviewee,
          purpose: visit.purpose,
          comeFrom: visit.comeFrom,
          remark,
        }));
    } catch (err) {
      const reason = failureReason(err);
      await release(passId, { koalaError: reason.slice(0, 500) });
      if (pass.koalaAttempts > deps.createRetryLimit) return { gaveUp: reason };
      return { retryInSeconds: backoff(pass.koalaAttempts), reason };
    }
    const after = await release(passId, { subjectId, koalaError: null });
    // Checked out while Koala was being written: the new subject goes at once.
    if (after?.revokedAt != null) await enqueue(database.executor, [{ passId, op: 'delete' }]);
    return 'done';
  }

  /** Deletes a subject whose pass row no longer exists; retried like any deletion. */
  async function removeOrphan(subjectId: number, attempt: number): Promise<Outcome> {
    try {
      await deps.koala.deleteSubject(subjectId);
      return 'done';
    } catch (err) {
      return { retryInSeconds: backoff(attempt), reason: failureReason(err) };
    }
  }

  async function remove(passId: number, knownSubjectId: number | undefined, attempt: number): Promise<Outcome> {
    const pass = await lease(passId, isNull(visitPasses.subjectDeletedAt));
    if (!pass) {
      const [row] = await db.select().from(visitPasses).where(eq(visitPasses.id, passId)).limit(1);
      if (!row) return knownSubjectId === undefined ? 'done' : removeOrphan(knownSubjectId, attempt);
      if (row.subjectDeletedAt !== null) return 'done';
      return heldElsewhere(row.koalaLeaseUntil);
    }
    // Never tried in Koala (this lease is the pass's first), and a creator seeing the revoked
    // pass will not write it now.
    if (pass.subjectId === null && pass.koalaAttempts <= 1) {
      await release(passId, { subjectDeletedAt: nowSeconds() });
      return 'done';
    }
    try {
      if (pass.subjectId !== null) await deps.koala.deleteSubject(pass.subjectId);
      // A create whose answer was lost (timeout after Koala committed) left a visitor we never
      // recorded: found by its remark and phone, it goes too.
      const remark = `来访 #${pass.applicationId}`;
      for (const v of await deps.koala.findVisitors(pass.name)) {
        if (v.phone === pass.phone && v.remark === remark && v.subjectId !== pass.subjectId) await deps.koala.deleteSubject(v.subjectId);
      }
    } catch (err) {
      const reason = failureReason(err);
      await release(passId, { koalaError: reason.slice(0, 500) });
      return { retryInSeconds: backoff(pass.koalaAttempts), reason };
    }
    await release(passId, { subjectDeletedAt: nowSeconds(), koalaError: null });
    return 'done';
  }

  async function handle(job: PgBoss.JobWithMetadata<KoalaSyncJob>): Promise<void> {
    const { passId, op, subjectId, attempt = 1 } = job.data;
    const outcome = op === 'create' ? await create(passId) : await remove(passId, subjectId, attempt);
    if (outcome === 'done') return;
    if ('gaveUp' in outcome) {
      logger.error({ passId, op, reason: outcome.gaveUp }, 'Koala visitor could not be written; giving up');
      return;
    }
    logger.warn({ passId, op, retryInSeconds: Math.round(outcome.retryInSeconds), reason: outcome.reason }, 'Koala sync will retry');
    await enqueue(database.executor, [{ passId, op, ...(subjectId === undefined ? {} : { subjectId }), attempt: attempt + 1 }], outcome.retryInSeconds);
  }

  let inFlight = 0;
  await boss.work<KoalaSyncJob>(
    KOALA_SYNC_QUEUE,
    { batchSize: 20, pollingIntervalSeconds: deps.pollingIntervalSeconds, includeMetadata: true },
    async (jobs) => {
      inFlight++;
      try {
        await Promise.all(
          jobs.map(async (job) => {
            try {
              await handle(job);
            } catch (err) {
              // A database hiccup: pg-boss retries this one job, not the batch.
              logger.warn({ err, passId: job.data.passId }, 'Koala sync job failed; pg-boss will retry it');
              await boss.fail(KOALA_SYNC_QUEUE, job.id, { message: failureReason(err) }).catch(() => undefined);
            }
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
        passIds.map((id) => create(id).catch((err: unknown) => logger.warn({ err, passId: id }, 'Koala write at sign-in failed; the job will retry'))),
      );
    },
    async stop() {
      await boss.offWork(KOALA_SYNC_QUEUE);
      await deps.queue.drain(() => inFlight > 0);
    },
  };
}
