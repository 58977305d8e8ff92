import { and, count, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { admins, rateCounters } from '../../db/schema.js';

export type AdminRow = typeof admins.$inferSelect;
/** What a session is issued from. */
export type AdminSessionRow = Pick<AdminRow, 'id' | 'username' | 'sessionVersion'>;

export const adminRepo = {
  async count(db: Db): Promise<number> {
    const [row] = await db.select({ n: count() }).from(admins);
    return row?.n ?? 0;
  },

  /** Serialises the creation of the first admin (replicas starting together) until the transaction ends. */
  async lockFirstAdmin(tx: Db): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('laifang:first-admin'))`);
  },

  /** The new admin's id; null when the username is taken. */
  async insert(tx: Db, row: { username: string; passwordHash: string; at: number }): Promise<number | null> {
    const [created] = await tx
      .insert(admins)
      .values({ username: row.username, passwordHash: row.passwordHash, createdAt: row.at, updatedAt: row.at })
      .onConflictDoNothing()
      .returning({ id: admins.id });
    return created?.id ?? null;
  },

  /** Deletes the admin if its password hash is still `passwordHash`; its id, or null when nothing matched. */
  async deleteWithHash(tx: Db, id: number, passwordHash: string): Promise<number | null> {
    const [row] = await tx
      .delete(admins)
      .where(and(eq(admins.id, id), eq(admins.passwordHash, passwordHash)))
      .returning({ id: admins.id });
    return row?.id ?? null;
  },

  async byUsername(db: Db, username: string): Promise<AdminRow | null> {
    const [row] = await db.select().from(admins).where(eq(admins.username, username)).limit(1);
    return row ?? null;
  },

  async byId(db: Db, id: number): Promise<AdminRow | null> {
    const [row] = await db.select().from(admins).where(eq(admins.id, id)).limit(1);
    return row ?? null;
  },

  async sessionOf(db: Db, id: number): Promise<AdminSessionRow | null> {
    const [row] = await db
      .select({ id: admins.id, username: admins.username, sessionVersion: admins.sessionVersion })
      .from(admins)
      .where(eq(admins.id, id))
      .limit(1);
    return row ?? null;
  },

  /** A new password, and the next session version (every token issued before stops verifying). */
  async setPassword(tx: Db, id: number, passwordHash: string, at: number): Promise<AdminSessionRow | null> {
    const [row] = await tx
      .update(admins)
      .set({ passwordHash, sessionVersion: sql`${admins.sessionVersion} + 1`, updatedAt: at })
      .where(eq(admins.id, id))
      .returning({ id: admins.id, username: admins.username, sessionVersion: admins.sessionVersion });
    return row ?? null;
  },

  /** Counts one login attempt in `bucket`'s window; returns the window's count. */
  async countAttempt(db: Db, bucket: string, windowStart: number): Promise<number> {
    const [row] = await db
      .insert(rateCounters)
      .values({ bucket, windowStart, hits: 1 })
      .onConflictDoUpdate({ target: [rateCounters.bucket, rateCounters.windowStart], set: { hits: sql`${rateCounters.hits} + 1` } })
      .returning({ hits: rateCounters.hits });
    return row?.hits ?? 0;
  },

  /** Deletes the windows of these buckets before `windowStart`. */
  async dropOldWindows(db: Db, buckets: string[], windowStart: number): Promise<void> {
    await db.delete(rateCounters).where(and(inArray(rateCounters.bucket, buckets), lt(rateCounters.windowStart, windowStart)));
  },

  /** Takes one attempt back from each of these buckets' window. */
  async takeBack(db: Db, buckets: string[], windowStart: number): Promise<void> {
    await db
      .update(rateCounters)
      .set({ hits: sql`greatest(${rateCounters.hits} - 1, 0)` })
      .where(and(inArray(rateCounters.bucket, buckets), sql`${rateCounters.windowStart} = ${windowStart}`));
  },
};
