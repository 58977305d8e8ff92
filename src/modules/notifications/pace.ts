/** How often (at most) the claim loop claims while it gives way to requests. */
export const GIVE_WAY_TICK_MS = 100;

/** While giving way: a claim of at most `trickle` rows every `tickMs`. */
export interface Pace {
  tickMs: number;
  trickle: number;
}

/**
 * The pace of `ratePerSecond` messages a second: a few rows every 100 ms, or one row at longer
 * intervals for a rate under 10 a second.
 */
export function givingWayPace(ratePerSecond: number): Pace {
  const tickMs = Math.max(GIVE_WAY_TICK_MS, 1000 / ratePerSecond);
  return { tickMs, trickle: Math.max(1, Math.round((ratePerSecond * tickMs) / 1000)) };
}

/** Rows one claim asks for: a batch, within the free slots, and only the trickle while giving way (`trickle` null: not giving way). */
export function claimLimit(batchSize: number, room: number, trickle: number | null): number {
  return Math.min(batchSize, room, trickle ?? Infinity);
}

/**
 * How long the claim loop waits before its next claim (0: at once), after a pass that claimed
 * `claimed` of the `limit` rows it asked for, or that found no free slot (`pass` null):
 * - no free slot: until a send ends and frees one (which wakes the loop), or at most a tick or a poll;
 * - a short batch: nothing more is due for now, so the next poll;
 * - a full batch: at once, so a backlog drains at full speed; while giving way, the next tick.
 */
export function pauseAfter(pass: { claimed: number; limit: number } | null, givingWay: boolean, tickMs: number, pollMs: number): number {
  if (pass === null) return givingWay ? tickMs : pollMs;
  if (pass.claimed < pass.limit) return pollMs;
  return givingWay ? tickMs : 0;
}
