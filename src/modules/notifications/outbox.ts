import type { Db } from '../../db/client.js';
import { notifications } from '../../db/schema.js';
import type { PlannedNotification } from './plan.js';

/** One outbox row as a feature plans it: an event's message to one phone over one channel. */
export type OutboxRow = Omit<PlannedNotification, 'event' | 'template'> & { event: string; template: string };

/**
 * Writes a record's outbox rows inside the caller's transaction, so a message exists iff the
 * change that causes it commits; the worker sends them once it has. A plain insert: its callers
 * (authorizing a request, a kiosk sign-in) write each event once, under the record's row lock
 * and only on the change of state that causes it. A second row for the same message is then a
 * bug, and the dedupe index (application, event, channel, phone) refuses it loudly: the
 * transaction fails rather than going on as if it had written the row.
 */
export async function writeOutbox(tx: Db, applicationId: number, planned: ReadonlyArray<OutboxRow>, at: Date): Promise<void> {
  if (planned.length === 0) return;
  await tx
    .insert(notifications)
    .values(
      planned.map((n) => ({ applicationId, event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload, createdAt: at })),
    );
}

/**
 * The JSON the batch statement that writes applications (applications/repo.ts) reads an
 * application's outbox rows from: they are inserted by that statement, with the application, in
 * its transaction.
 */
export function outboxJson(planned: ReadonlyArray<OutboxRow>): Array<Pick<OutboxRow, 'event' | 'channel' | 'phone' | 'template' | 'payload'>> {
  return planned.map((n) => ({ event: n.event, channel: n.channel, phone: n.phone, template: n.template, payload: n.payload }));
}
