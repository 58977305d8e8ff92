import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { appState, landedFiles, staffCache } from '../../db/schema.js';

/** A remembered employee: what Koala said of them, and when. */
export type StaffRow = typeof staffCache.$inferSelect;

export const staffRepo = {
  async byPhone(db: Db, phone: string): Promise<StaffRow | null> {
    const [row] = await db.select().from(staffCache).where(eq(staffCache.phone, phone)).limit(1);
    return row ?? null;
  },

  /** Upserts many employees in one statement (phones must be distinct). */
  async upsert(db: Db, rows: StaffRow[]): Promise<void> {
    if (rows.length === 0) return;
    await db
      .insert(staffCache)
      .values(rows)
      .onConflictDoUpdate({
        target: staffCache.phone,
        set: {
          subjectId: sql`excluded.subject_id`,
          name: sql`excluded.name`,
          department: sql`excluded.department`,
          koalaAvatarUrl: sql`excluded.koala_avatar_url`,
          refreshedAt: sql`excluded.refreshed_at`,
        },
      });
  },

  async remove(db: Db, phone: string): Promise<void> {
    await db.delete(staffCache).where(eq(staffCache.phone, phone));
  },

  /** A small named value of `app_state` with the time it was written. */
  async state(db: Db, key: string): Promise<{ value: unknown; updatedAt: Date } | null> {
    const [row] = await db.select({ value: appState.value, updatedAt: appState.updatedAt }).from(appState).where(eq(appState.key, key)).limit(1);
    return row ?? null;
  },

  async setState(db: Db, key: string, value: unknown, at: Date): Promise<void> {
    await db
      .insert(appState)
      .values({ key, value, updatedAt: at })
      .onConflictDoUpdate({ target: appState.key, set: { value, updatedAt: at } });
  },

  /** Where a Koala picture was landed in our storage, if it was. */
  async landedKey(db: Db, sourceUrl: string): Promise<string | null> {
    const [row] = await db.select({ key: landedFiles.storageKey }).from(landedFiles).where(eq(landedFiles.sourceUrl, sourceUrl)).limit(1);
    return row?.key ?? null;
  },

  /** Records a landed picture (another replica may have recorded it first: kept as it is). */
  async recordLanded(db: Db, row: typeof landedFiles.$inferInsert): Promise<void> {
    await db.insert(landedFiles).values(row).onConflictDoNothing();
  },
};
