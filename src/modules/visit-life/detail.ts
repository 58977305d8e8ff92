import { AppError } from '../../errors.js';
import { isParty, rolesOf } from './parties.js';
import { lifeRepo } from './repo.js';
import type { HolderPass, LifeDeps } from './service.js';
import { strip } from './changes.js';
import { buildTimeline, type TimelineEntry } from './timeline.js';
import type { ApplicationRecord } from '../applications/schemas.js';

export interface VisitDetail extends ApplicationRecord {
  timeline: TimelineEntry[];
  /** The caller's own pass while it admits (signed in, not checked out, window not over); else null. */
  pass: (HolderPass & { valid_from: number; valid_until: number }) | null;
}

export type Detail = (callerPhone: string, id: number) => Promise<VisitDetail>;

/** One visit to any of its people (proposer, host, visitor, a companion); anyone else 404. */
export function createDetail(deps: LifeDeps): Detail {
  return async function detail(callerPhone, id) {
    const r = await lifeRepo.find(deps.database.db, id);
    if (!r || !isParty(rolesOf(r, callerPhone))) throw new AppError('NOT_FOUND');
    const timeline = buildTimeline(r, r.kind, await lifeRepo.timelineEntries(deps.database.db, id));
    const now = Math.floor(deps.now() / 1000);
    const held = r.status === 'signed_in' && r.end_time > now ? await deps.holderPass(id, callerPhone) : null;
    const pass = held ? { ...held, valid_from: r.start_time, valid_until: r.end_time } : null;
    return { ...strip(r), timeline, pass };
  };
}
