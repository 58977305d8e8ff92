import { AppError } from '../../errors.js';
import { phonesOf } from '../applications/build.js';
import { planLifeNotifications } from '../notifications/life-plan.js';
import { writeOutbox } from '../notifications/outbox.js';
import { lifeRepo } from './repo.js';
import type { LifeDeps } from './service.js';

/**
 * Closes one visit whose window ended undecided, in one transaction under its row lock: a
 * request nobody authorized becomes `expired` (its proposer is told), an approved visit nobody
 * signed in to becomes `no_show` (nobody is told). Audited as the system. A visit another
 * replica closed meanwhile, or that changed (signed in, moved), is left as it is.
 */
async function closeEnded(deps: LifeDeps, id: number): Promise<boolean> {
  const now = Math.floor(deps.now() / 1000);
  const record = await deps.database.db.transaction(async (tx) => {
    const r = await lifeRepo.find(tx, id, true);
    if (!r) throw new AppError('NOT_FOUND');
    if ((r.status !== 'pending' && r.status !== 'approved') || r.end_time > now) return null;
    const expired = r.status === 'pending';
    await lifeRepo.close(tx, id, expired ? 'expired' : 'no_show', '');
    await deps.audit.record(tx, {
      actor: { kind: 'system', id: 'window-end' },
      action: expired ? 'visit.expire' : 'visit.no_show',
      targetType: 'application',
      targetId: String(id),
    });
    if (expired) {
      const facts = {
        id,
        name: r.name,
        company: r.come_from,
        count: 1 + r.retinues.length,
        interviewee: r.interviewee,
        startTime: r.start_time,
        endTime: r.end_time,
        reason: '',
        url: `${deps.publicUrl}/h5/#/visit/${id}`,
      };
      const planned = planLifeNotifications('expired', facts, [{ phone: r.proposer, template: 'visit_expired' }], await deps.templates(tx));
      await writeOutbox(tx, id, planned, new Date(deps.now()));
    }
    return r;
  });
  if (record) deps.pages?.invalidate(phonesOf(record));
  return record !== null;
}

/** Closes up to `limit` visits whose window ended undecided; returns how many it closed. */
export async function sweepUndecided(deps: LifeDeps, limit: number): Promise<number> {
  const ids = await lifeRepo.undecidedEnded(deps.database.db, Math.floor(deps.now() / 1000), limit);
  let done = 0;
  for (const id of ids) {
    try {
      if (await closeEnded(deps, id)) done++;
    } catch (err) {
      deps.logger.warn({ err, applicationId: id }, 'closing an ended visit failed; the next sweep retries');
    }
  }
  return done;
}
