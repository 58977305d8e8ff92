import { and, desc, eq, gt, gte, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { smsCodes } from '../../db/schema.js';

export const smsCodeRepo = {
  /** Serialises, until the transaction ends, every request for one phone across replicas. */
  async lockPhone(tx: Db, phone: string): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`sms-code:${phone}`}))`);
  },

  /** When the phone's codes since `since` were sent (Unix ms), newest first. */
  async sentSince(tx: Db, phone: string, since: Date): Promise<number[]> {
    const rows = await tx
      .select({ createdAt: smsCodes.createdAt })
      .from(smsCodes)
      .where(and(eq(smsCodes.phone, phone), gte(smsCodes.createdAt, since)))
      .orderBy(desc(smsCodes.createdAt));
    return rows.map((r) => r.createdAt.getTime());
  },

  async insert(tx: Db, row: { phone: string; codeHash: string; createdAt: Date; expiresAt: Date }): Promise<number> {
    const [created] = await tx.insert(smsCodes).values(row).returning({ id: smsCodes.id });
    return created!.id;
  },

  async remove(db: Db, id: number): Promise<void> {
    await db.delete(smsCodes).where(eq(smsCodes.id, id));
  },

  /** The phone's codes neither spent nor expired at `now`. */
  async active(db: Db, phone: string, now: Date): Promise<Array<{ id: number; codeHash: string }>> {
    return db
      .select({ id: smsCodes.id, codeHash: smsCodes.codeHash })
      .from(smsCodes)
      .where(and(eq(smsCodes.phone, phone), isNull(smsCodes.spentAt), gt(smsCodes.expiresAt, now)));
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

  /**
   * Counts a wrong try against each of these codes still live (one spent meanwhile by a right
   * try stays spent); a code's `maxWrongTries`-th wrong try spends it.
   */
  async countWrongTry(db: Db, ids: number[], now: Date, maxWrongTries: number): Promise<void> {
    await db
      .update(smsCodes)
      // The typed cast matters: an untyped parameter in CASE is text, which timestamptz refuses.
      .set({
        wrongTries: sql`${smsCodes.wrongTries} + 1`,
        spentAt: sql`case when ${smsCodes.wrongTries} + 1 >= ${maxWrongTries} then ${now.toISOString()}::timestamptz else null end`,
      })
      .where(and(inArray(smsCodes.id, ids), isNull(smsCodes.spentAt)));
  },

  /** Makes a spent code usable again. */
  async unspend(db: Db, id: number): Promise<void> {
    await db.update(smsCodes).set({ spentAt: null }).where(eq(smsCodes.id, id));
  },
};
