import { AppError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import { phonesOf } from '../applications/build.js';
import { checkWindow, textField } from '../applications/validate.js';
import type { ActorKind } from '../audit/service.js';
import { planLifeNotifications, type LifeEvent } from '../notifications/life-plan.js';
import { writeOutbox } from '../notifications/outbox.js';
import type { Db } from '../../db/client.js';
import { visitRepo } from '../visits/repo.js';
import { decide, rolesOf, type Action } from './parties.js';
import { lifeRepo, type LifeRecord } from './repo.js';
import type { LifeDeps } from './service.js';
import type { ApplicationRecord } from '../applications/schemas.js';
import type { TemplateName } from '../../config.js';

export interface Changes {
  /** The host refuses a pending request, with a reason the visitor is told. */
  reject(callerPhone: string, id: number, reason: string): Promise<ApplicationRecord>;
  /** The proposer or the host calls the visit off before sign-in; everyone else is told. */
  cancel(callerPhone: string, id: number, reason: string | undefined): Promise<ApplicationRecord>;
  /** The host, or a visitor who proposed it, moves the visit before sign-in. */
  reschedule(callerPhone: string, id: number, start: number, end: number): Promise<ApplicationRecord>;
}

/** What one change writes besides the record: its audit entry and its messages. */
interface Effect {
  action: string;
  detail: object;
  event?: LifeEvent;
  reason?: string;
  recipients?: Array<{ phone: string; template: TemplateName }>;
}

type Step = (tx: Db, r: LifeRecord, actorKind: ActorKind) => Promise<Effect | null>;

/**
 * One change in one transaction, under the record's row lock: the rule (`decide`), the change,
 * its audit entry and its outbox rows. A repeated reject or cancel (a double tap), and a move to
 * the window the visit already has, change nothing and answer the record as it stands.
 */
async function change(deps: LifeDeps, action: Action, callerPhone: string, id: number, step: Step): Promise<ApplicationRecord> {
  const { record, changed } = await deps.database.db.transaction(async (tx) => {
    const current = await lifeRepo.find(tx, id, true);
    if (!current) throw new AppError('NOT_FOUND');
    if (decide(action, current, callerPhone) === 'again') return { record: current, changed: false };
    const actorKind: ActorKind = current.interviewee_phone === callerPhone ? 'staff' : 'visitor';
    const effect = await step(tx, current, actorKind);
    if (!effect) return { record: current, changed: false };
    await deps.audit.record(tx, {
      actor: { kind: actorKind, id: callerPhone },
      action: effect.action,
      targetType: 'application',
      targetId: String(id),
      detail: effect.detail,
    });
    const after = (await lifeRepo.find(tx, id))!;
    if (effect.event && effect.recipients) {
      const facts = {
        id,
        name: after.name,
        company: after.come_from,
        count: 1 + after.retinues.length,
        interviewee: after.interviewee,
        startTime: after.start_time,
        endTime: after.end_time,
        reason: effect.reason ?? '',
        url: `${deps.publicUrl}/h5/#/visit/${id}`,
      };
      const planned = planLifeNotifications(effect.event, facts, effect.recipients, await deps.templates(tx));
      await writeOutbox(tx, id, planned, new Date(deps.now()));
    }
    return { record: after, changed: true };
  });
  if (changed) deps.pages?.invalidate(phonesOf(record));
  return strip(record);
}

export function createChanges(deps: LifeDeps): Changes {
  const nowS = () => Math.floor(deps.now() / 1000);

  return {
    reject(callerPhone, id, reasonIn) {
      const reason = textField('reason', reasonIn, 1, LIMITS.statusReason);
      return change(deps, 'reject', callerPhone, id, async (tx, r) => {
        await lifeRepo.close(tx, id, 'rejected', reason);
        return { action: 'visit.reject', detail: { reason }, event: 'rejected', reason, recipients: [{ phone: r.proposer, template: 'visit_rejected' }] };
      });
    },

    cancel(callerPhone, id, reasonIn) {
      const reason = textField('reason', reasonIn, 0, LIMITS.statusReason);
      return change(deps, 'cancel', callerPhone, id, async (tx, r) => {
        await lifeRepo.close(tx, id, 'cancelled', reason);
        // Nothing is written to Koala before sign-in; whatever a pass left there goes all the same.
        const passes = await visitRepo.revokePasses(tx, id, nowS());
        if (passes.length > 0) {
          const jobs = passes.map((p) => ({ passId: p.id, op: 'delete' as const, ...(p.subjectId === null ? {} : { subjectId: p.subjectId }) }));
          await deps.koalaSync.enqueue(deps.database.executorFor(tx), jobs);
        }
        const others = [r.proposer, ...phonesOf(r)].filter((p) => p !== callerPhone);
        return {
          action: 'visit.cancel',
          detail: { reason, passes: passes.length },
          event: 'cancelled',
          reason,
          recipients: others.map((phone) => ({ phone, template: 'visit_cancelled' as const })),
        };
      });
    },

    reschedule(callerPhone, id, start, end) {
      // The checks of POST /v1/subject, before any rule of the visit (a 400 comes first).
      checkWindow(start, end, nowS(), deps.visitWindow);
      return change(deps, 'reschedule', callerPhone, id, async (tx, r) => {
        if (start === r.start_time && end === r.end_time) return null;
        const byHost = rolesOf(r, callerPhone).host;
        await lifeRepo.moveWindow(tx, id, start, end, !byHost);
        const detail = { from: { start_time: r.start_time, end_time: r.end_time }, to: { start_time: start, end_time: end }, reauthorize: !byHost };
        const recipients: Effect['recipients'] = byHost
          ? [r.phone, ...r.retinues.map((c) => c.phone)].filter((p) => p !== callerPhone).map((phone) => ({ phone, template: 'visit_rescheduled' }))
          : [{ phone: r.interviewee_phone, template: 'approval_reminder_to_employee' }];
        return { action: 'visit.reschedule', detail, event: 'rescheduled', recipients };
      });
    },
  };
}

/** The record as the contract has it (without the kind and revision read beside it). */
export function strip(r: LifeRecord): ApplicationRecord {
  const { kind: _kind, revision: _revision, ...record } = r;
  return record;
}
