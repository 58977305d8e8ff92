import type { Config } from '../../config.js';
import type { Database, Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Audit } from '../audit/service.js';
import { planNotifications } from '../notifications/plan.js';
import { writeOutbox } from '../notifications/outbox.js';
import { authorizedFacts, phonesOf } from './build.js';
import type { PageCache } from './page-cache.js';
import { applicationRepo } from './repo.js';
import type { ApplicationRecord } from './schemas.js';

export interface AuthorizeDeps {
  database: Database;
  /** The template ids in force, read inside the authorizing transaction. */
  templates: (tx: Db) => Promise<Config['templates']>;
  recordsUrl: string;
  audit?: Audit;
  pages?: PageCache;
  now: () => number;
}

export type Authorize = (callerPhone: string, id: number) => Promise<ApplicationRecord>;

/**
 * 3.11: the host authorizes a visitor request. In one transaction, under the record's row lock:
 * the record, the audit entry and the message to the visitor (`request_authorized`, the outbox
 * row the notification worker sends once this commits). Anyone but the host gets 404, so a
 * record's existence is not revealed; an authorized record is answered as it is, a request that
 * ended (rejected, cancelled, expired) is 409.
 */
export function createAuthorize(deps: AuthorizeDeps): Authorize {
  return async function authorize(callerPhone, id) {
    const record = await deps.database.db.transaction(async (tx) => {
      const current = await applicationRepo.findById(tx, id, { forUpdate: true });
      if (!current || current.interviewee_phone !== callerPhone) throw new AppError('NOT_FOUND');
      if (current.is_auth === 1) return current;
      // A request rejected, cancelled or left to expire is over: it cannot be authorized any more.
      if (current.status !== 'pending') throw new AppError('CONFLICT', '来访申请已结束，不能再授权');
      const at = Math.floor(deps.now() / 1000);
      await applicationRepo.markAuthorized(tx, id, at);
      await deps.audit?.record(tx, {
        actor: { kind: 'staff', id: callerPhone },
        action: 'application.authorize',
        targetType: 'application',
        targetId: String(id),
      });
      const planned = planNotifications('request_authorized', authorizedFacts(current), await deps.templates(tx), deps.recordsUrl);
      await writeOutbox(tx, id, planned, new Date(deps.now()));
      return { ...current, is_auth: 1, auth_time: at, status: 'approved' as const };
    });
    deps.pages?.invalidate(phonesOf(record));
    return record;
  };
}
