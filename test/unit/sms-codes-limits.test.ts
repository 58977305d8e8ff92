import { describe, expect, it } from 'vitest';
import { sendRetryAfter } from '../../src/modules/sms-codes/limits.js';

const NOW = 1_750_000_000_000;
const MIN = 60_000;
const HOUR = 3_600_000;
/** Send times (newest first) `agoMs` before NOW. */
const sent = (...agoMs: number[]) => agoMs.map((a) => NOW - a).sort((x, y) => y - x);

describe('sendRetryAfter (§3.0: 1 a minute, 5 an hour, 10 a day per phone)', () => {
  it('lets the first code through, and one a minute after the last', () => {
    expect(sendRetryAfter([], NOW)).toBeNull();
    expect(sendRetryAfter(sent(MIN), NOW)).toBeNull();
  });

  it('within the minute: wait until the last code is a minute old', () => {
    expect(sendRetryAfter(sent(20_000), NOW)).toBe(40);
  });

  it('five in the hour: wait until the oldest of them leaves the hour', () => {
    expect(sendRetryAfter(sent(2 * MIN, 10 * MIN, 20 * MIN, 30 * MIN, 50 * MIN), NOW)).toBe(600);
    expect(sendRetryAfter(sent(2 * MIN, 10 * MIN, 20 * MIN, 30 * MIN, HOUR), NOW)).toBeNull();
  });

  it('ten in the day: wait until the oldest of them leaves the day', () => {
    const day = sent(...Array.from({ length: 10 }, (_, i) => 2 * HOUR + i * HOUR));
    expect(sendRetryAfter(day, NOW)).toBe((24 - 11) * 3600);
  });

  it('the minute is checked first', () => {
    expect(sendRetryAfter(sent(30_000, 10 * MIN, 20 * MIN, 30 * MIN, 40 * MIN), NOW)).toBe(30);
  });
});
