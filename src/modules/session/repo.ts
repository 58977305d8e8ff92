import { lt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { redeemedOAuthCodes } from '../../db/schema.js';

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
};
