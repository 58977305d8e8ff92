import { createHmac } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { SmsPort } from '../../adapters/sms/port.js';
import type { Database } from '../../db/client.js';
import { incrementCounters } from '../../db/counters.js';
import { rateCounters } from '../../db/schema.js';
import { UpstreamError } from '../../errors.js';

export interface SmsCaps {
  perPhonePerHour: number;
  perPhonePerDay: number;
  globalPerHour: number;
}

/** The part of `globalPerHour` verification codes may use (the rest is kept for notifications). */
export function codesPerHour(caps: Pick<SmsCaps, 'globalPerHour'>, sharePercent: number): number {
  return Math.max(1, Math.floor((caps.globalPerHour * sharePercent) / 100));
}

/** Thrown by a guarded SmsPort instead of sending: not transient, so nothing retries it. */
export class SmsCapExceeded extends UpstreamError {
  constructor(
    readonly scope: 'phone-hour' | 'phone-day' | 'global-hour' | 'code-hour',
    retryAfterSeconds: number,
  ) {
    super('sms', 'RATE_LIMITED', `SMS cap reached (${scope}); not sent`, { transient: false, retryAfter: retryAfterSeconds });
    this.name = 'SmsCapExceeded';
  }
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Caps on SMS actually sent, so that nobody can use the service to flood a phone (or the
 * account) with texts. Every route that ends in an SMS — codes, invitations and requests that
 * text a third party — goes through one SmsPort, so wrapping it caps them all at once. Counters
 * are fixed windows in `rate_counters` (shared by every replica): a send reserves one unit in
 * each window with one statement, and a send that fails, or that goes over a cap, gives its
 * units back (an outage must not use up a phone's allowance). Bucket names carry a keyed hash
 * of the phone, never the number itself.
 *
 * Verification codes (`kind: 'code'`) also take a unit of `codesPerHour`, a part of the global
 * hour: anyone with a session can ask for codes, and without that part a flood of code requests
 * would use up the global cap and silence every notification for the rest of the hour.
 */
export function guardSms(deps: {
  database: Database;
  sms: SmsPort;
  caps: SmsCaps;
  /** Codes an hour, at most (codesPerHour()); none: codes are held by the global cap alone. */
  codesPerHour?: number;
  secret: string;
  now: () => number;
}): SmsPort {
  const key = createHmac('sha256', deps.secret).update('laifang/sms-guard/v1').digest();
  const phoneTag = (phone: string) => createHmac('sha256', key).update(phone).digest('base64url').slice(0, 22);

  function windows(phone: string, now: number, code: boolean) {
    const tag = phoneTag(phone);
    // `window_start` holds the window's END for these buckets: the request limiter sweeps rows
    // whose window_start is two minutes old, which would otherwise drop an hour's count early;
    // keyed by their end they are swept only once over (and by the retention job). Days are UTC
    // days (08:00 Beijing time).
    return [
      { scope: 'phone-hour' as const, bucket: `sms:p:h:${tag}`, ms: HOUR, max: deps.caps.perPhonePerHour },
      { scope: 'phone-day' as const, bucket: `sms:p:d:${tag}`, ms: DAY, max: deps.caps.perPhonePerDay },
      { scope: 'global-hour' as const, bucket: 'sms:global:h', ms: HOUR, max: deps.caps.globalPerHour },
      ...(code && deps.codesPerHour !== undefined ? [{ scope: 'code-hour' as const, bucket: 'sms:codes:h', ms: HOUR, max: deps.codesPerHour }] : []),
    ].map((w) => ({ ...w, end: (Math.floor(now / w.ms) + 1) * w.ms }));
  }

  /**
   * Takes one unit in each window with ONE auto-committed statement (src/db/counters.ts): the
   * rows (the global one is shared by every SMS) stay locked only while it runs, not across round
   * trips, so senders do not queue behind each other. Over a cap, the units are given back at once.
   */
  async function reserve(phone: string, code: boolean): Promise<ReturnType<typeof windows>> {
    const now = deps.now();
    const ws = windows(phone, now, code);
    const hits = await incrementCounters(
      deps.database,
      ws.map((w) => ({ bucket: w.bucket, windowStart: w.end })),
    );
    const over = ws.find((w) => (hits.get(w.bucket) ?? 1) > w.max);
    if (over) {
      await release(ws).catch(() => undefined);
      throw new SmsCapExceeded(over.scope, (over.end - now) / 1000);
    }
    return ws;
  }

  async function release(ws: ReturnType<typeof windows>): Promise<void> {
    const pairs = sql.join(
      ws.map((w) => sql`(${w.bucket}, ${w.end}::bigint)`),
      sql`, `,
    );
    await deps.database.db.execute(sql`update ${rateCounters} set hits = greatest(hits - 1, 0) where (bucket, window_start) in (${pairs})`);
  }

  return {
    async send(input) {
      const ws = await reserve(input.phone, input.kind === 'code');
      try {
        return await deps.sms.send(input);
      } catch (err) {
        // A transient failure is retried later and reserves again then; a permanent refusal sent nothing.
        await release(ws).catch(() => undefined);
        throw err;
      }
    },
    // Asking whether a message went out sends nothing: no cap is taken.
    ...(deps.sms.wasSent ? { wasSent: deps.sms.wasSent.bind(deps.sms) } : {}),
  };
}
