import type { Db } from '../../db/client.js';
import type { Logger } from '../../log.js';
import { sessionRepo } from './repo.js';

/**
 * Sessions ended before they expire: per WeChat openid, a bound (the database's clock, ms);
 * a token issued at or before it is refused. The check runs on every request, so it reads
 * memory only: every replica holds the revocations of the last SESSION_TTL (a few, one per
 * unbinding or "sign out everywhere") and reads the ones changed since its last look every
 * `pollMs` (2 s, like the binding cache); the replica that revokes knows at once.
 */
export interface SessionRevocations {
  /** True when a token of `weixinUserId` issued at `issuedAt` (ms, database clock; 0 unknown) is revoked. */
  isRevoked(weixinUserId: string, issuedAt: number): boolean;
  /** The `iat` for a new session of `weixinUserId`: the database's clock, after any revocation. */
  issuedAt(weixinUserId: string): Promise<number>;
  /** Ends every session of `weixinUserId` issued until now, through `executor` (a transaction); `remember` after it commits. */
  revoke(executor: Db, weixinUserId: string): Promise<number>;
  /** Takes a committed revocation into this replica's memory at once. */
  remember(weixinUserId: string, revokedBefore: number): void;
  stop(): Promise<void>;
}

export interface SessionRevocationsDeps {
  db: Db;
  logger: Logger;
  ttlSeconds: number;
  /** How often the revocations changed on other replicas are read; default 2 000 ms. */
  pollMs?: number;
}

/** Rows re-read on every look: a revocation committed this long after its bound was taken is still seen. */
const OVERLAP_MS = 10_000;
const SWEEP_EVERY_MS = 3600_000;

/** Loads the revocations in force, then keeps them current until `stop()`. */
export async function startSessionRevocations(deps: SessionRevocationsDeps): Promise<SessionRevocations> {
  const ttlMs = deps.ttlSeconds * 1000;
  const bounds = new Map<string, number>();
  let lastSweep = 0;
  let failing = false;

  const remember = (weixinUserId: string, revokedBefore: number) => {
    if ((bounds.get(weixinUserId) ?? 0) < revokedBefore) bounds.set(weixinUserId, revokedBefore);
  };
  let since = 0;
  async function look(): Promise<void> {
    const { now, rows } = await sessionRepo.changedSince(deps.db, since);
    for (const r of rows) remember(r.weixinUserId, r.revokedBefore);
    since = now - OVERLAP_MS;
    // Older bounds end only tokens that have expired anyway.
    for (const [id, bound] of bounds) if (bound < now - ttlMs) bounds.delete(id);
    if (now - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = now;
      await sessionRepo.forgetRevokedBefore(deps.db, now - ttlMs - OVERLAP_MS);
    }
  }

  // The first look takes everything still in force, before any request is answered.
  await look();
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    running ??= look()
      .then(() => {
        if (failing) deps.logger.info('session revocations are read again');
        failing = false;
      })
      .catch((err: unknown) => {
        // The database is down: the revocations known so far still hold; told once per outage.
        if (!failing) deps.logger.warn({ err }, 'session revocations could not be read; the ones known so far still hold');
        failing = true;
      })
      .finally(() => {
        running = null;
      });
  }, deps.pollMs ?? 2_000);
  timer.unref();

  return {
    isRevoked(weixinUserId, issuedAt) {
      const bound = bounds.get(weixinUserId);
      return bound !== undefined && issuedAt <= bound;
    },
    async issuedAt(weixinUserId) {
      const { now, revokedBefore } = await sessionRepo.clockAndBound(deps.db, weixinUserId);
      return revokedBefore === null ? now : Math.max(now, revokedBefore + 1);
    },
    revoke: (executor, weixinUserId) => sessionRepo.revoke(executor, weixinUserId),
    remember,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
