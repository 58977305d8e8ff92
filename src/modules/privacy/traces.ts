import { and, eq, inArray, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { auditLog, landedFiles, staffCache } from '../../db/schema.js';

/**
 * What names a phone outside the visit records: audit entries (a staff member's phone is the
 * actor of an authorization or a host's check-out) and the picture landed from Koala for a
 * staff member (their face, in our storage).
 */

/** The phone as a whole number inside a text (not part of a longer run of digits). Phones are validated digits. */
const inText = (phone: string) => `(^|[^0-9])${phone}([^0-9]|$)`;

const namesPhone = (phone: string) => or(eq(auditLog.actorId, phone), eq(auditLog.targetId, phone), sql`${auditLog.detail}::text ~ ${inText(phone)}`);

export const tracesRepo = {
  /** Audit entries that name the phone (as actor, target or in their detail), oldest first. */
  async auditEntries(db: Db, phone: string) {
    return db.select().from(auditLog).where(namesPhone(phone)).orderBy(auditLog.id);
  },

  /**
   * Replaces the phone by `masked` in every audit entry that names it; the entries stay.
   * Returns how many entries were changed.
   */
  async pseudonymiseAudit(tx: Db, phone: string, masked: string): Promise<number> {
    const changed = await tx
      .update(auditLog)
      .set({
        actorId: sql`case when ${auditLog.actorId} = ${phone} then ${masked} else ${auditLog.actorId} end`,
        targetId: sql`case when ${auditLog.targetId} = ${phone} then ${masked} else ${auditLog.targetId} end`,
        detail: sql`regexp_replace(${auditLog.detail}::text, ${inText(phone)}, ${`\\1${masked}\\2`}, 'g')::jsonb`,
      })
      .where(namesPhone(phone))
      .returning({ id: auditLog.id });
    return changed.length;
  },

  /** The pictures landed for the phone's Koala employee (their avatar), as the export lists them. */
  async pictures(db: Db, phone: string) {
    return db
      .select({
        sourceUrl: landedFiles.sourceUrl,
        storageKey: landedFiles.storageKey,
        contentType: landedFiles.contentType,
        bytes: landedFiles.bytes,
        landedAt: landedFiles.landedAt,
      })
      .from(landedFiles)
      .innerJoin(staffCache, eq(staffCache.koalaAvatarUrl, landedFiles.sourceUrl))
      .where(eq(staffCache.phone, phone))
      .orderBy(landedFiles.sourceUrl);
  },

  /**
   * Forgets the pictures landed for the phone's employee: their `landed_files` rows, unless
   * another employee's cached record points at the same Koala URL (a shared picture, not this
   * person's). Returns the rows gone and the storage keys no remaining row uses, whose files
   * the caller deletes (identical pictures share one file).
   */
  async erasePictures(tx: Db, phone: string): Promise<{ rows: number; keys: string[] }> {
    const mine = await tracesRepo.pictures(tx, phone);
    const urls = mine.map((p) => p.sourceUrl);
    if (urls.length === 0) return { rows: 0, keys: [] };
    const shared = await tx
      .select({ url: staffCache.koalaAvatarUrl })
      .from(staffCache)
      .where(and(inArray(staffCache.koalaAvatarUrl, urls), ne(staffCache.phone, phone)));
    const own = urls.filter((u) => !shared.some((s) => s.url === u));
    if (own.length === 0) return { rows: 0, keys: [] };
    const gone = await tx.delete(landedFiles).where(inArray(landedFiles.sourceUrl, own)).returning({ key: landedFiles.storageKey });
    const keys = [...new Set(gone.map((g) => g.key))];
    const still = keys.length > 0 ? await tx.select({ key: landedFiles.storageKey }).from(landedFiles).where(inArray(landedFiles.storageKey, keys)) : [];
    return { rows: gone.length, keys: keys.filter((k) => !still.some((s) => s.key === k)) };
  },
};
