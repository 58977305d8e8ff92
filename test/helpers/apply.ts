import { eq } from 'drizzle-orm';
import { notifications } from '../../src/db/schema.js';
import type { Harness } from './harness.js';

/**
 * A clock for `startHarness({ now })`: real time plus an offset that tests move forward (or
 * back), or frozen at one instant (equal `created_at`s).
 */
export class TestClock {
  private offsetMs = 0;
  private frozenAt: number | null = null;
  readonly now = (): number => this.frozenAt ?? Date.now() + this.offsetMs;
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
  advance(seconds: number): void {
    if (this.frozenAt !== null) this.frozenAt += seconds * 1000;
    else this.offsetMs += seconds * 1000;
  }
  freeze(): void {
    this.frozenAt = this.now();
  }
  thaw(): void {
    if (this.frozenAt !== null) this.offsetMs = this.frozenAt - Date.now();
    this.frozenAt = null;
  }
  /** A visit window `hoursFromNow` after this clock's now. */
  window(hoursFromNow = 1, lengthHours = 2): { start_time: number; end_time: number } {
    const start = this.nowSeconds() + Math.round(hoursFromNow * 3600);
    return { start_time: start, end_time: start + Math.round(lengthHours * 3600) };
  }
}

let phoneSeq = 0;
/** A fresh mainland mobile number (139…, never a demo employee's 138…). */
export function newPhone(prefix = '139'): string {
  phoneSeq += 1;
  return `${prefix}${String(Date.now() % 1000).padStart(3, '0')}${String(phoneSeq).padStart(5, '0')}`;
}

let wxSeq = 0;
export function newOpenid(tag = 'wx'): string {
  wxSeq += 1;
  return `${tag}-${wxSeq}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The keys of a record, exactly as api-contract.md §4 shows it. */
export const RECORD_KEYS = [
  'id',
  'subject_type',
  'name',
  'phone',
  'purpose',
  'purpose_name',
  'come_from',
  'remark',
  'proposer',
  'interviewee',
  'interviewee_phone',
  'start_time',
  'end_time',
  'is_auth',
  'auth_time',
  'created_at',
  'retinues',
  'status',
  'status_reason',
  'signin_time',
  'signout_time',
].sort();

export type NotificationRow = typeof notifications.$inferSelect;

export async function notificationsOf(h: Harness, applicationId: number): Promise<NotificationRow[]> {
  const rows = await h.runtime.database.db.select().from(notifications).where(eq(notifications.applicationId, applicationId));
  return rows.sort((a, b) => a.id - b.id);
}

export async function allNotifications(h: Harness): Promise<NotificationRow[]> {
  const rows = await h.runtime.database.db.select().from(notifications);
  return rows.sort((a, b) => a.id - b.id);
}

/** Waits until every notification of the application has an outcome (none pending). */
export async function settled(h: Harness, applicationId: number, timeoutMs = 15_000): Promise<NotificationRow[]> {
  return h.waitFor(
    async () => {
      const rows = await notificationsOf(h, applicationId);
      return rows.length > 0 && rows.every((r) => r.status !== 'pending') ? rows : null;
    },
    { timeoutMs, what: `notifications of application ${applicationId} to settle` },
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
