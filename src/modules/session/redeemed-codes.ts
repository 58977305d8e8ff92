import { createHmac } from 'node:crypto';
import type { Db } from '../../db/client.js';
import { sessionRepo } from './repo.js';

export interface RedeemedCodes {
  /** True the first time a code is presented (on any replica), false ever after. */
  claim(code: string): Promise<boolean>;
}

const KEEP_MS = 24 * 3600_000;

/** OAuth codes redeemed, kept as keyed hashes for a day; swept at most once an hour per process. */
export function createRedeemedCodes(deps: { db: Db; secret: string; now: () => number }): RedeemedCodes {
  const key = createHmac('sha256', deps.secret).update('laifang/oauth-code/v1').digest();
  let lastSweep = 0;
  return {
    async claim(code) {
      const now = deps.now();
      if (now - lastSweep > 3600_000) {
        lastSweep = now;
        await sessionRepo.forgetBefore(deps.db, new Date(now - KEEP_MS));
      }
      return sessionRepo.redeem(deps.db, createHmac('sha256', key).update(code).digest('hex'), new Date(now));
    },
  };
}
