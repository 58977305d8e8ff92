import { describe, expect, it } from 'vitest';
import { claimLimit, givingWayPace, pauseAfter } from '../../src/modules/notifications/pace.js';

// How fast the claim loop claims (src/modules/notifications/pace.ts).

describe('givingWayPace', () => {
  it('a few rows every 100 ms for a rate of 10 a second or more', () => {
    expect(givingWayPace(50)).toEqual({ tickMs: 100, trickle: 5 });
    expect(givingWayPace(10)).toEqual({ tickMs: 100, trickle: 1 });
    expect(givingWayPace(1000)).toEqual({ tickMs: 100, trickle: 100 });
  });

  it('one row at longer intervals under 10 a second', () => {
    expect(givingWayPace(2)).toEqual({ tickMs: 500, trickle: 1 });
    expect(givingWayPace(1)).toEqual({ tickMs: 1000, trickle: 1 });
  });

  it('keeps the rate it is given to within half a row a tick (whole rows a tick)', () => {
    for (const rate of [1, 3, 7, 10, 25, 50, 200]) {
      const { tickMs, trickle } = givingWayPace(rate);
      expect(Number.isInteger(trickle)).toBe(true);
      expect(Math.abs(trickle - (rate * tickMs) / 1000)).toBeLessThanOrEqual(0.5);
    }
  });
});

describe('claimLimit', () => {
  it('a batch, within the free slots', () => {
    expect(claimLimit(50, 200, null)).toBe(50);
    expect(claimLimit(50, 7, null)).toBe(7);
  });

  it('only the trickle while giving way', () => {
    expect(claimLimit(50, 200, 5)).toBe(5);
    expect(claimLimit(50, 3, 5)).toBe(3);
  });
});

describe('pauseAfter', () => {
  const TICK = 100;
  const POLL = 1000;

  it('a full batch: claims again at once, or at the next tick while giving way', () => {
    expect(pauseAfter({ claimed: 50, limit: 50 }, false, TICK, POLL)).toBe(0);
    expect(pauseAfter({ claimed: 5, limit: 5 }, true, TICK, POLL)).toBe(TICK);
  });

  it('a short batch (nothing more due): the next poll, giving way or not', () => {
    expect(pauseAfter({ claimed: 3, limit: 50 }, false, TICK, POLL)).toBe(POLL);
    expect(pauseAfter({ claimed: 0, limit: 5 }, true, TICK, POLL)).toBe(POLL);
  });

  it('no free slot: at most a poll (a freed slot wakes the loop), or a tick while giving way', () => {
    expect(pauseAfter(null, false, TICK, POLL)).toBe(POLL);
    expect(pauseAfter(null, true, TICK, POLL)).toBe(TICK);
  });
});
