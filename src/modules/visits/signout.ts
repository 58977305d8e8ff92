import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Audit, AuditEntry } from '../audit/service.js';
import type { KoalaSync } from './koala-sync.js';
import { visitRepo } from './repo.js';

export interface SignoutView {
  id: number;
  signin_time: number;
  signout_time: number;
}

export interface SignoutDeps {
  database: Database;
  koalaSync: KoalaSync;
  audit: Audit;
  logger: Logger;
  now: () => number;
}

export interface SignoutOptions {
  /** A phone session may only check out its own visitors (others: 404, the visit is not revealed). */
  hostPhone?: string;
  /** The window ended (the sweep): audited as `visit.auto_signout`. */
  auto?: boolean;
}

/**
 * Check-out: in one transaction the visit's signout_time, its passes revoked, one Koala deletion
 * job per pass and the audit entry. A visit already checked out answers its first check-out.
 */
export async function signout(deps: SignoutDeps, actor: AuditEntry['actor'], id: number, opts: SignoutOptions = {}): Promise<SignoutView> {
  const { database } = deps;
  return database.db.transaction(async (tx) => {
    const a = await visitRepo.lockApplication(tx, id);
    if (!a || (opts.hostPhone !== undefined && a.intervieweePhone !== opts.hostPhone)) throw new AppError('NOT_FOUND');
    if (a.signinTime === null) throw new AppError('CONFLICT', '访客尚未签到');
    if (a.signoutTime !== null) return { id, signin_time: a.signinTime, signout_time: a.signoutTime };
    const at = Math.floor(deps.now() / 1000);
    await visitRepo.markSignedOut(tx, id, at);
    const passes = await visitRepo.revokePasses(tx, id, at);
    await deps.koalaSync.enqueue(
      database.executorFor(tx),
      passes.map((p) => ({ passId: p.id, op: 'delete' as const, ...(p.subjectId === null ? {} : { subjectId: p.subjectId }) })),
    );
    await deps.audit.record(tx, {
      actor,
      action: opts.auto ? 'visit.auto_signout' : 'visit.signout',
      targetType: 'application',
      targetId: String(id),
      detail: { passes: passes.length },
    });
    return { id, signin_time: a.signinTime, signout_time: at };
  });
}

/** Checks out (as the system) up to `limit` visits whose window has ended; returns how many. */
export async function sweepEnded(deps: SignoutDeps, limit: number): Promise<number> {
  const ids = await visitRepo.ended(deps.database.db, Math.floor(deps.now() / 1000), limit);
  let done = 0;
  for (const id of ids) {
    try {
      await signout(deps, { kind: 'system', id: 'window-end' }, id, { auto: true });
      done++;
    } catch (err) {
      deps.logger.warn({ err, applicationId: id }, 'automatic check-out failed; the next sweep retries');
    }
  }
  return done;
}
