import { and, desc, eq, gt, gte, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { rateCounters, smsCodes } from '../../db/schema.js';

/** A (bucket, window) row of `rate_counters`. */
export interface Counter {
  bucket: string;
  windowStart: number;
}

export const smsCodeRepo = {
  /** Serialises, until the transaction ends, every request for one phone across replicas. */
  async lockPhone(tx: Db, phone: string): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`sms-code:${phone}`}))`);
  },

  /** The phone's codes sent since `since` (their ids, and when, in Unix ms), newest first. */
  async sentSince(tx: Db, phone: string, since: Date): Promise<Array<{ id: number; at: number }>> {
    const rows = await tx
      .select({ id: smsCodes.id, createdAt: smsCodes.createdAt })
      .from(smsCodes)
      .where(and(eq(smsCodes.phone, phone), gte(smsCodes.createdAt, since)))
      .orderBy(desc(smsCodes.createdAt));
    return rows.map((r) => ({ id: r.id, at: r.createdAt.getTime() }));
  },

  async insert(tx: Db, row: { phone: string; codeHash: string; createdAt: Date; expiresAt: Date }): Promise<number> {
    const [created] = await tx.insert(smsCodes).values(row).returning({ id: smsCodes.id });
    return created!.id;
  },

  async remove(db: Db, id: number): Promise<void> {
    await db.delete(smsCodes).where(eq(smsCodes.id, id));
  },

  /** The phone's codes neither spent, nor expired at `now`, nor out of tries. */
  async active(db: Db, phone: string, now: Date, maxTries: number): Promise<Array<{ id: number; codeHash: string; expiresAt: Date }>> {
    return db
      .select({ id: smsCodes.id, codeHash: smsCodes.codeHash, expiresAt: smsCodes.expiresAt })
      .from(smsCodes)
      .where(and(eq(smsCodes.phone, phone), isNull(smsCodes.spentAt), gt(smsCodes.expiresAt, now), lt(smsCodes.wrongTries, maxTries)));
  },

  /**
   * Takes one try from each of these codes still live with a try left, in one statement, BEFORE
   * the guess is compared: concurrent guesses cannot check a code more than `maxTries` times.
   * Answers the codes whose try was taken.
   */
  async takeTry(db: Db, ids: number[], maxTries: number): Promise<Array<{ id: number; codeHash: string }>> {
    if (ids.length === 0) return [];
    return db
      .update(smsCodes)
      .set({ wrongTries: sql`${smsCodes.wrongTries} + 1` })
      .where(and(inArray(smsCodes.id, ids), isNull(smsCodes.spentAt), lt(smsCodes.wrongTries, maxTries)))
      .returning({ id: smsCodes.id, codeHash: smsCodes.codeHash });
  },

  /** Gives back the tries of a right guess. */
  async giveBackTry(db: Db, ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await db
      .update(smsCodes)
      .set({ wrongTries: sql`greatest(${smsCodes.wrongTries} - 1, 0)` })
      .where(inArray(smsCodes.id, ids));
  },

  /** Spends a live code; false when another request spent it first (only one gets the row). */
  async spend(db: Db, id: number, now: Date): Promise<boolean> {
    const [taken] = await db
      .update(smsCodes)
      .set({ spentAt: now })
      .where(and(eq(smsCodes.id, id), isNull(smsCodes.spentAt)))
      .returning({ id: smsCodes.id });
    return taken !== undefined;
  },

  /** Spends those of these codes whose tries are used up. */
  async spendExhausted(db: Db, ids: number[], now: Date, maxTries: number): Promise<void> {
    if (ids.length === 0) return;
    await db
      .update(smsCodes)
      .set({ spentAt: now })
      .where(and(inArray(smsCodes.id, ids), isNull(smsCodes.spentAt), gte(smsCodes.wrongTries, maxTries)));
  },

  /** Makes a spent code usable again. */
  async unspend(db: Db, id: number): Promise<void> {
    await db.update(smsCodes).set({ spentAt: null }).where(eq(smsCodes.id, id));
  },

  /** Adds `by` to each counter (created at `by`); answers the new counts by bucket. */
  async bump(db: Db, counters: Counter[], by = 1): Promise<Map<string, number>> {
    if (counters.length === 0) return new Map();
    const rows = await db
      .insert(rateCounters)
      .values(counters.map((c) => ({ bucket: c.bucket, windowStart: c.windowStart, hits: by })))
      .onConflictDoUpdate({ target: [rateCounters.bucket, rateCounters.windowStart], set: { hits: sql`${rateCounters.hits} + ${by}` } })
      .returning({ bucket: rateCounters.bucket, hits: rateCounters.hits });
    return new Map(rows.map((r) => [r.bucket, r.hits]));
  },

  /** Takes one back from each counter that still exists. */
  async takeBack(db: Db, counters: Counter[]): Promise<void> {
    if (counters.length === 0) return;
    const pairs = sql.join(
      counters.map((c) => sql`(${c.bucket}, ${c.windowStart}::bigint)`),
      sql`, `,
    );
    await db.execute(sql`update ${rateCounters} set hits = greatest(hits - 1, 0) where (bucket, window_start) in (${pairs})`);
  },

  /** Which of these buckets hold a count above 0 (in any window). */
  async present(db: Db, buckets: string[]): Promise<Set<string>> {
    if (buckets.length === 0) return new Set();
    const rows = await db
      .select({ bucket: rateCounters.bucket })
      .from(rateCounters)
      .where(and(inArray(rateCounters.bucket, buckets), gt(rateCounters.hits, 0)));
    return new Set(rows.map((r) => r.bucket));
  },
};
