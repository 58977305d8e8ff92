import { UpstreamError } from '../../errors.js';
import { failureReason } from '../../retry.js';
import type { Outcome } from './outbox-repo.js';
import { SmsCapExceeded } from './sms-caps.js';

/** What a failed attempt leads to: another attempt later, or the row's final outcome. */
export type Verdict = { retry: true; reason: string } | { retry: false; outcome: Outcome };

/**
 * A row claimed after its last allowed attempt (`attempts` counts this claim): its sender was
 * lost on every attempt (the lease ran out each time), so it is recorded failed instead of
 * being sent. Null while attempts remain.
 */
export function lostSenderOutcome(attempts: number, retryLimit: number): Outcome | null {
  if (attempts <= retryLimit + 1) return null;
  return { status: 'failed', reason: `gave up after ${attempts - 1} attempts: the sending process was lost` };
}

/**
 * The verdict on a send that threw, at its `attempts`-th attempt. An SMS cap reached is
 * recorded skipped (never retried: the cap is the point). A provider's permanent refusal is
 * recorded failed with its words. Anything else (a transient provider failure, or no provider
 * verdict at all, e.g. a database hiccup) is tried again while attempts remain, and recorded
 * failed after the last one.
 */
export function failureVerdict(err: unknown, attempts: number, retryLimit: number): Verdict {
  if (err instanceof SmsCapExceeded) return { retry: false, outcome: { status: 'skipped', reason: `sms cap reached (${err.scope})` } };
  const transient = err instanceof UpstreamError ? err.transient : true;
  const reason = failureReason(err);
  if (transient && attempts <= retryLimit) return { retry: true, reason };
  return { retry: false, outcome: { status: 'failed', reason: transient ? `gave up after ${attempts} attempts: ${reason}` : reason } };
}
