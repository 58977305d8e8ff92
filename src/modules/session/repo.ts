import { gt, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { redeemedOAuthCodes, sessionRevocations } from '../../db/schema.js';

/** The database's clock in milliseconds: one clock for every replica's session times. */
const DB_NOW_MS = sql<string>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

export const sessionRepo = {
  /** Records a code as redeemed; false when it already was (on any replica). */
  async redeem(db: Db, codeHash: string, at: Date): Promise<boolean> {
    const rows = await db
      .insert(redeemedOAuthCodes)
      .values({ codeHash, redeemedAt: at })
      .onConflictDoNothing()
      .returning({ codeHash: redeemedOAuthCodes.codeHash });
    return rows.length === 1;
  },

  /** Forgets codes redeemed before `before` (WeChat codes expire long before). */
  async forgetBefore(db: Db, before: Date): Promise<void> {
    await db.delete(redeemedOAuthCodes).where(lt(redeemedOAuthCodes.redeemedAt, before));
  },

  /** Ends every session of `weixinUserId` issued until now (database clock); the new bound, ms. */
  async revoke(db: Db, weixinUserId: string): Promise<number> {
    const [row] = await db
      .insert(sessionRevocations)
      .values({ weixinUserId, revokedBefore: sql`${DB_NOW_MS}` })
      .onConflictDoUpdate({
        target: sessionRevocations.weixinUserId,
        set: { revokedBefore: sql`greatest(${sessionRevocations.revokedBefore}, excluded.revoked_before)` },
      })
      .returning({ revokedBefore: sessionRevocations.revokedBefore });
    return Number(row!.revokedBefore);
  },

  /** The database's clock (ms) and the bound of `weixinUserId`'s revocation, if any: for a new session's `iat`. */
  async clockAndBound(db: Db, weixinUserId: string): Promise<{ now: number; revokedBefore: number | null }> {
    const rows = await db.execute(
      sql`select ${DB_NOW_MS} as now, (select revoked_before from session_revocations where weixin_user_id = ${weixinUserId}) as revoked_before`,
    );
    const row = rowsOf<{ now: string; revoked_before: string | null }>(rows)[0]!;
    return { now: Number(row.now), revokedBefore: row.revoked_before === null ? null : Number(row.revoked_before) };
  },

  /** Revocations whose bound is after `since` (ms), with the database's clock when read. */
  async changedSince(db: Db, since: number): Promise<{ now: number; rows: Array<{ weixinUserId: string; revokedBefore: number }> }> {
    const [clock] = rowsOf<{ now: string }>(await db.execute(sql`select ${DB_NOW_MS} as now`));
    const rows = await db
      .select({ weixinUserId: sessionRevocations.weixinUserId, revokedBefore: sessionRevocations.revokedBefore })
      .from(sessionRevocations)
      .where(gt(sessionRevocations.revokedBefore, since));
    return { now: Number(clock!.now), rows: rows.map((r) => ({ weixinUserId: r.weixinUserId, revokedBefore: Number(r.revokedBefore) })) };
  },

  /** Forgets revocations whose bound is before `before` (ms): every token they ended has expired. */
  async forgetRevokedBefore(db: Db, before: number): Promise<void> {
    await db.delete(sessionRevocations).where(lt(sessionRevocations.revokedBefore, before));
  },
};

/** drizzle's `execute` answers the rows (PGlite) or a result with `rows` (pg). */
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
