import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/errors.js';
import { outcomeRow } from '../../src/modules/notifications/outbox-repo.js';
import { SmsCapExceeded } from '../../src/modules/notifications/sms-caps.js';
import { failureVerdict, lostSenderOutcome } from '../../src/modules/notifications/verdict.js';

// What a failed attempt leads to (src/modules/notifications/verdict.ts), with a retry limit of 2:
// three attempts in all.

const LIMIT = 2;
const unavailable = () => new UpstreamError('sms', 'UPSTREAM_UNAVAILABLE', 'HTTP 503');
const refused = () => new UpstreamError('sms', 'UPSTREAM_FAILED', 'isv.SMS_TEMPLATE_ILLEGAL');

describe('failureVerdict', () => {
  it('a transient failure is retried while attempts remain, with its reason', () => {
    expect(failureVerdict(unavailable(), 1, LIMIT)).toEqual({ retry: true, reason: 'sms: HTTP 503' });
    expect(failureVerdict(unavailable(), 2, LIMIT)).toEqual({ retry: true, reason: 'sms: HTTP 503' });
  });

  it('the last transient failure is recorded failed, saying how many attempts were made', () => {
    expect(failureVerdict(unavailable(), 3, LIMIT)).toEqual({ retry: false, outcome: { status: 'failed', reason: 'gave up after 3 attempts: sms: HTTP 503' } });
  });

  it('a retry limit of 0 gives up after the first attempt', () => {
    expect(failureVerdict(unavailable(), 1, 0)).toMatchObject({ retry: false, outcome: { status: 'failed' } });
  });

  it("a permanent refusal is recorded failed at once, in the provider's words", () => {
    expect(failureVerdict(refused(), 1, LIMIT)).toEqual({ retry: false, outcome: { status: 'failed', reason: 'sms: isv.SMS_TEMPLATE_ILLEGAL' } });
  });

  it('an SMS cap reached is recorded skipped, never retried', () => {
    expect(failureVerdict(new SmsCapExceeded('phone-hour', 60), 1, LIMIT)).toEqual({
      retry: false,
      outcome: { status: 'skipped', reason: 'sms cap reached (phone-hour)' },
    });
  });

  it('anything that is not a provider verdict (a database hiccup) is worth another try', () => {
    expect(failureVerdict(new Error('connection reset'), 1, LIMIT)).toEqual({ retry: true, reason: 'connection reset' });
    expect(failureVerdict('odd', 3, LIMIT)).toEqual({ retry: false, outcome: { status: 'failed', reason: 'gave up after 3 attempts: odd' } });
  });
});

describe('lostSenderOutcome', () => {
  it('a row claimed within its allowed attempts is sent', () => {
    for (const attempts of [1, 2, 3]) expect(lostSenderOutcome(attempts, LIMIT)).toBeNull();
  });

  it('a row claimed after its last allowed attempt is recorded failed: its sender was lost each time', () => {
    expect(lostSenderOutcome(4, LIMIT)).toEqual({ status: 'failed', reason: 'gave up after 3 attempts: the sending process was lost' });
  });
});

describe('outcomeRow', () => {
  it('a sent row keeps the provider reference (none when empty); the others their reason', () => {
    expect(outcomeRow(1, { status: 'sent', ref: 'biz-1' })).toEqual({ id: 1, status: 'sent', ref: 'biz-1', err: null });
    expect(outcomeRow(2, { status: 'sent', ref: '' })).toEqual({ id: 2, status: 'sent', ref: null, err: null });
    expect(outcomeRow(3, { status: 'skipped', reason: 'no binding' })).toEqual({ id: 3, status: 'skipped', ref: null, err: 'no binding' });
    expect(outcomeRow(4, { status: 'failed', reason: 'refused' })).toEqual({ id: 4, status: 'failed', ref: null, err: 'refused' });
  });
});
