import type { Logger } from '../../log.js';
import type { ClaimedRow } from './outbox-repo.js';
import { claimLimit, pauseAfter, type Pace } from './pace.js';

export interface ClaimLoopOptions {
  /** One claim statement: up to `limit` due rows, leased to this process. */
  claim(limit: number): Promise<ClaimedRow[]>;
  /** One claimed row to its end (sent and recorded); it never throws. */
  handle(row: ClaimedRow): Promise<void>;
  logger: Logger;
  /** Rows one claim asks for at most. */
  batchSize: number;
  /** Rows in flight at most. */
  capacity: number;
  pollMs: number;
  /** While `busy()`, claims follow `pace`. */
  giveWay?: { busy(): boolean; pace: Pace };
}

export interface ClaimLoop {
  /** See NotifyWorker.nextIdlePass. */
  nextIdlePass(): Promise<void>;
  /** Claim statements completed so far. */
  passes(): number;
  /** Stops claiming; resolves once the rows in flight have ended. */
  stop(): Promise<void>;
}

/** A nap that `wake()` cuts short. */
function interruptibleNap(): { nap(ms: number): Promise<void>; wake(): void } {
  let wake: (() => void) | null = null;
  return {
    nap: (ms) =>
      new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
        const timer = setTimeout(end, ms);
        wake = end;
      }),
    wake: () => wake?.(),
  };
}

interface IdleWaiter {
  /** Passes started when it asked: only a later pass answers it. */
  after: number;
  resolve(): void;
  reject(err: Error): void;
}

/** The callers of nextIdlePass, and the passes that answer them. */
function idlePassWatch() {
  let started = 0;
  let completed = 0;
  let waiters: IdleWaiter[] = [];
  return {
    /** A pass starts: its number. */
    start: () => ++started,
    completed: () => completed,
    wait: () => new Promise<void>((resolve, reject) => waiters.push({ after: started, resolve, reject })),
    /** Pass `seq` completed; when idle, its waiters are answered once `drained` (the rows in flight) settles. */
    complete(seq: number, idle: boolean, drained: () => Promise<unknown>): void {
      completed++;
      if (!idle) return;
      const ready = waiters.filter((w) => w.after < seq);
      if (ready.length === 0) return;
      waiters = waiters.filter((w) => w.after >= seq);
      void drained().then(() => ready.forEach((w) => w.resolve()));
    },
    close(err: Error): void {
      for (const w of waiters) w.reject(err);
      waiters = [];
    },
  };
}

/**
 * Claims due rows and starts every send at once, keeping up to `capacity` rows in flight: it
 * claims again as soon as a slot frees after being full, at once while batches come back full,
 * and at the next poll after a short one. While giving way it claims a trickle every tick.
 */
export function startClaimLoop(o: ClaimLoopOptions): ClaimLoop {
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const sleeper = interruptibleNap();
  const watch = idlePassWatch();
  const drained = () => Promise.allSettled([...inFlight]);

  function start(row: ClaimedRow): void {
    const running: Promise<void> = o.handle(row).finally(() => {
      inFlight.delete(running);
      // Room again after being full: claim at once (there may be a backlog).
      if (inFlight.size === o.capacity - 1) sleeper.wake();
    });
    inFlight.add(running);
  }

  /** One claim, its rows started: how long to wait before the next one. */
  async function pass(): Promise<number> {
    const givingWay = o.giveWay?.busy() ?? false;
    const pace = o.giveWay?.pace;
    const room = o.capacity - inFlight.size;
    if (room <= 0) return pauseAfter(null, givingWay, pace?.tickMs ?? o.pollMs, o.pollMs);
    const limit = claimLimit(o.batchSize, room, givingWay && pace ? pace.trickle : null);
    const seq = watch.start();
    let rows: ClaimedRow[];
    try {
      rows = await o.claim(limit);
    } catch (err) {
      if (!stopped) o.logger.warn({ err }, 'could not claim notifications; trying again at the next poll');
      return o.pollMs;
    }
    for (const row of rows) start(row);
    watch.complete(seq, rows.length < limit, drained);
    return pauseAfter({ claimed: rows.length, limit }, givingWay, pace?.tickMs ?? o.pollMs, o.pollMs);
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      const ms = await pass();
      if (!stopped && ms > 0) await sleeper.nap(ms);
    }
  }

  const running = loop();

  return {
    nextIdlePass: () => (stopped ? Promise.reject(new Error('the notification worker is stopped')) : watch.wait()),
    passes: () => watch.completed(),
    async stop() {
      stopped = true;
      sleeper.wake();
      await running;
      watch.close(new Error('the notification worker stopped'));
      // Sends under way finish (each provider call has its timeout).
      await drained();
    },
  };
}
