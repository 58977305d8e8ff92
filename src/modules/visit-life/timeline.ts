import type { ApplicationRecord } from '../applications/schemas.js';

export const TIMELINE_EVENTS = ['applied', 'approved', 'rejected', 'rescheduled', 'cancelled', 'signed_in', 'checked_out', 'expired', 'no_show'] as const;
export type TimelineEvent = (typeof TIMELINE_EVENTS)[number];

/** Who did it: the visit's host or visitor, the front desk's kiosk, the system (window end), an admin. */
export type TimelineActor = 'host' | 'visitor' | 'kiosk' | 'system' | 'admin';

export interface TimelineEntry {
  at: number;
  event: TimelineEvent;
  by: TimelineActor;
}

const EVENT_OF: Record<string, TimelineEvent> = {
  'application.authorize': 'approved',
  'visit.reject': 'rejected',
  'visit.cancel': 'cancelled',
  'visit.reschedule': 'rescheduled',
  'visit.expire': 'expired',
  'visit.no_show': 'no_show',
  'visit.signin': 'signed_in',
  'visit.signout': 'checked_out',
  'visit.auto_signout': 'checked_out',
};

function actorOf(r: ApplicationRecord, kind: string, id: string): TimelineActor {
  if (kind === 'device') return 'kiosk';
  if (kind === 'system') return 'system';
  if (kind === 'admin') return 'admin';
  return id === r.interviewee_phone ? 'host' : 'visitor';
}

/**
 * The visit's timeline, oldest first (pure): `applied` when it was made, then what the audit log
 * recorded of it. The audit entry of every change is written in the change's transaction, so the
 * timeline holds exactly the changes that happened.
 */
export function buildTimeline(
  r: ApplicationRecord,
  kind: string,
  entries: ReadonlyArray<{ at: number; actorKind: string; actorId: string; action: string }>,
): TimelineEntry[] {
  const out: TimelineEntry[] = [{ at: r.created_at, event: 'applied', by: kind === 'invitation' ? 'host' : 'visitor' }];
  for (const e of entries) {
    const event = EVENT_OF[e.action];
    if (event) out.push({ at: e.at, event, by: actorOf(r, e.actorKind, e.actorId) });
  }
  return out;
}
