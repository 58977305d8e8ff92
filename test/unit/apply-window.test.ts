import { describe, expect, it } from 'vitest';
import { rateLimited, retryAfter } from '../../src/modules/applications/window.js';

const NOW = 1_800_000_000;

describe('retryAfter: the hourly limit on a window (pure)', () => {
  it('under the limit: null', () => {
    expect(retryAfter([], NOW, 3)).toBeNull();
    expect(retryAfter([NOW - 10, NOW - 5], NOW, 3)).toBeNull();
  });

  it('at the limit: until the oldest of the hour leaves it', () => {
    expect(retryAfter([NOW - 100, NOW - 50, NOW], NOW, 3)).toBe(3500);
    // Exactly an hour old is out of the hour.
    expect(retryAfter([NOW - 3600, NOW - 50, NOW], NOW, 3)).toBeNull();
    expect(retryAfter([NOW - 3599, NOW - 50, NOW], NOW, 3)).toBe(1);
  });

  it('several in one second count one each', () => {
    expect(retryAfter([NOW - 300, NOW - 10, NOW - 10], NOW, 3)).toBe(3300);
    expect(retryAfter([NOW - 10, NOW - 10], NOW, 3)).toBeNull();
  });

  it('more than the limit (a limit lowered): the caller waits for the one that frees a slot', () => {
    expect(retryAfter([NOW - 400, NOW - 300, NOW - 200, NOW - 100], NOW, 2)).toBe(3400);
  });

  it("seconds ahead of this clock (another replica's) count: the wait is from them", () => {
    expect(retryAfter([NOW + 5, NOW + 5], NOW, 2)).toBe(3605);
  });

  it('the refusal is 429 RATE_LIMITED with its Retry-After', () => {
    const err = rateLimited(20, 42);
    expect({ code: err.code, status: err.status, retryAfter: err.retryAfter }).toEqual({ code: 'RATE_LIMITED', status: 429, retryAfter: 42 });
    expect(err.message).toContain('20');
  });
});
