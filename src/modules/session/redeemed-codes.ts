import { createHmac } from 'node:crypto';
import { lt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { redeemedOAuthCodes } from '../../db/schema.js';

export interface RedeemedCodes {
  /** True the first time a code is presented (on any replica), false ever after. */
  claim(code: string): Promise<boolean>;
}

const KEEP_MS = 24 * 3600_000;

export function createRedeemedCodes(deps: { db: Db; secret: string; now: () => number }): RedeemedCodes {
  const key = createHmac('sha256', deps.secret).update('laifang/oauth-code/v1').digest();
  let lastSweep = 0;
  return {
    async claim(code) {
      const now = deps.now();
      if (now - lastSweep > 3600_000) {
        lastSweep = now;
        await deps.db.delete(redeemedOAuthCodes).where(lt(redeemedOAuthCodes.redeemedAt, new Date(now - KEEP_MS)));
      }
      const rows = await deps.db
        .insert(redeemedOAuthCodes)
        .values({ codeHash: createHmac('sha256', key).update(code).digest('hex'), redeemedAt: new Date(now) })
        .onConflictDoNothing()
        .returning({ codeHash: redeemedOAuthCodes.codeHash });
      return rows.length === 1;
    },
  };
}
