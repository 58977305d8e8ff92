import type { Logger } from '../../log.js';

export interface VisitSweep {
  stop(): Promise<void>;
}

/**
 * Automatic check-out at the end of a visit's window. A periodic look at the
 * database rather than one delayed job per visit: nothing to lose across restarts (the state
 * is the visit row itself, found through a partial index), a window changed later needs no
 * rescheduling, and several replicas sweeping at once is harmless (check-out locks the row
 * and is idempotent).
 */
export function startVisitSweep(deps: { sweep: () => Promise<number>; intervalSeconds: number; logger: Logger }): VisitSweep {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        // A backlog (after downtime) is worked off in batches without waiting for the next tick.
        while (!stopped && (await deps.sweep()) >= 100);
      } catch (err) {
        deps.logger.warn({ err }, 'visit check-out sweep failed; retrying at the next tick');
      } finally {
        running = null;
      }
    })();
  };
  const timer = setInterval(tick, deps.intervalSeconds * 1000);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
