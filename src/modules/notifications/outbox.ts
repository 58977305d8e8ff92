import type { Db } from '../../db/client.js';
import { notifications } from '../../db/schema.js';
import type { PlannedNotification } from './plan.js';

/** One outbox row as a feature plans it: an event's message to one phone over one channel. */
export type OutboxRow = Omit<PlannedNotification, 'event' | 'template'> & { event: string; template: string };

/**
 * Writes a record's outbox rows inside the caller's transaction, so a message exists iff the
 * change that causes it commits; the worker sends them once it has. The dedupe index
 * (application, event, channel, phone) refuses a second row for the same message: a replayed
 * event writes nothing twice.
 */
export async function writeOutbox(tx: Db, applicationId: number, planned: ReadonlyArray<OutboxRow>, at: Date): Promise<void> {
  if (planned.length === 0) return;
  await tx
    .insert(notifications)
    .values(
      planned.map((n) => ({ applicationId, event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload, createdAt: at })),
    )
    .onConflictDoNothing();
}

/** The JSON the batch statement that writes applications reads an application's outbox rows from (CREATE_APPLICATIONS). */
export function outboxJson(planned: ReadonlyArray<OutboxRow>): Array<Pick<OutboxRow, 'event' | 'channel' | 'phone' | 'template' | 'payload'>> {
  return planned.map((n) => ({ event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload }));
}
