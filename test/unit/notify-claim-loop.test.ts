import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/log.js';
import { startClaimLoop, type ClaimLoop, type ClaimLoopOptions } from '../../src/modules/notifications/claim-loop.js';
import type { ClaimedRow } from '../../src/modules/notifications/outbox-repo.js';

// The notification worker's claim loop (src/modules/notifications/claim-loop.ts), against an
// outbox in memory and sends that end when the test says.

/** Due rows in memory; each claim takes the oldest, up to its limit. */
function memoryOutbox() {
  let nextId = 1;
  const due: ClaimedRow[] = [];
  const limits: number[] = [];
  let failures = 0;
  return {
    limits,
    add(n: number): void {
      for (let i = 0; i < n; i++) due.push({ id: nextId++, applicationId: 1, channel: 'sms', phone: '13900000000', payload: {}, attempts: 1 });
    },
    failNext(n: number): void {
      failures = n;
    },
    claim: async (limit: number): Promise<ClaimedRow[]> => {
      limits.push(limit);
      if (failures > 0) {
        failures--;
        throw new Error('database unreachable');
      }
      return due.splice(0, limit);
    },
  };
}

/** Sends that end when released. */
function heldSends() {
  const started: number[] = [];
  const ends = new Map<number, () => void>();
  return {
    started,
    handle: (row: ClaimedRow) =>
      new Promise<void>((resolve) => {
        started.push(row.id);
        ends.set(row.id, resolve);
      }),
    release(id: number): void {
      ends.get(id)?.();
      ends.delete(id);
    },
    releaseAll(): void {
      for (const id of [...ends.keys()]) this.release(id);
    },
  };
}

const logger = () => ({ warn: vi.fn(), error: vi.fn(), info: vi.fn(), debug: vi.fn() }) as unknown as Logger & { warn: ReturnType<typeof vi.fn> };

/** Waits until `cond` holds (the loop runs on timers and promises). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Lets every callback already due run. */
const settle = () => new Promise((r) => setImmediate(r));

let loops: Array<{ loop: ClaimLoop; sends: ReturnType<typeof heldSends> }> = [];
function start(opts: Partial<ClaimLoopOptions> & { outbox: ReturnType<typeof memoryOutbox>; sends?: ReturnType<typeof heldSends> }) {
  const sends = opts.sends ?? heldSends();
  const loop = startClaimLoop({ handle: sends.handle, logger: logger(), batchSize: 2, capacity: 10, pollMs: 20, claim: opts.outbox.claim, ...opts });
  loops.push({ loop, sends });
  return { loop, sends };
}
afterEach(async () => {
  const running = loops;
  loops = [];
  for (const { loop, sends } of running) {
    sends.releaseAll();
    await loop.stop();
  }
});

describe('nextIdlePass', () => {
  it('resolves after a later pass finds less than it asked for, once the rows in flight have ended', async () => {
    const outbox = memoryOutbox();
    outbox.add(3);
    const { loop, sends } = start({ outbox });
    await until(() => sends.started.length === 3, 'the three rows sent');
    const passes = loop.passes();
    const answered = vi.fn();
    const idle = loop.nextIdlePass().then(answered);
    await until(() => loop.passes() > passes, 'a pass after the call');
    await settle();
    // Nothing more is due, but three sends are under way.
    expect(answered).not.toHaveBeenCalled();
    sends.release(1);
    sends.release(2);
    await settle();
    expect(answered).not.toHaveBeenCalled();
    sends.release(3);
    await idle;
    expect(answered).toHaveBeenCalledOnce();
  });

  it('is not answered by the pass under way when it is called, nor by a full one', async () => {
    const outbox = memoryOutbox();
    // Claims that answer when the test says, until it is over.
    let release: (rows: ClaimedRow[]) => void = () => undefined;
    let over = false;
    const claim = vi.fn((limit: number) =>
      over
        ? Promise.resolve([])
        : new Promise<ClaimedRow[]>((resolve) => {
            release = resolve;
            outbox.limits.push(limit);
          }),
    );
    const sends = heldSends();
    const { loop } = start({ outbox, claim, sends });
    await until(() => claim.mock.calls.length === 1, 'the first claim');
    const answered = vi.fn();
    const idle = loop.nextIdlePass().then(answered);
    release([]); // short, but it started before the call
    await until(() => claim.mock.calls.length === 2, 'the next claim');
    await settle();
    expect(answered).not.toHaveBeenCalled();
    release([1, 2].map((id) => ({ id, applicationId: 1, channel: 'sms', phone: '13900000000', payload: {}, attempts: 1 }))); // full: more may be due
    await until(() => claim.mock.calls.length === 3, 'the claim after a full batch');
    sends.releaseAll();
    await settle();
    expect(answered).not.toHaveBeenCalled();
    over = true;
    release([]);
    await idle;
    expect(answered).toHaveBeenCalledOnce();
    expect(loop.passes()).toBeGreaterThanOrEqual(3);
  });
});

describe('the claim loop', () => {
  it('claims again at once while batches come back full, up to its capacity; a freed slot wakes it', async () => {
    const outbox = memoryOutbox();
    outbox.add(7);
    // A poll far away: every claim after the first is a full batch's or a freed slot's.
    const { sends } = start({ outbox, batchSize: 2, capacity: 4, pollMs: 60_000 });
    await until(() => sends.started.length === 4, 'two full batches');
    await settle();
    expect(outbox.limits).toEqual([2, 2]);
    sends.release(1);
    await until(() => sends.started.length === 5, 'the freed slot filled');
    expect(outbox.limits).toEqual([2, 2, 1]);
    expect(sends.started).toEqual([1, 2, 3, 4, 5]);
  });

  it('while giving way claims the trickle each tick, and a batch once no longer busy', async () => {
    const outbox = memoryOutbox();
    outbox.add(5);
    let busy = true;
    const { sends } = start({ outbox, batchSize: 10, capacity: 20, pollMs: 60_000, giveWay: { busy: () => busy, pace: { tickMs: 5, trickle: 1 } } });
    await until(() => sends.started.length === 3, 'three ticks');
    expect(outbox.limits.slice(0, 3)).toEqual([1, 1, 1]);
    busy = false;
    await until(() => sends.started.length === 5, 'the rest');
    expect(outbox.limits.at(-1)).toBe(10);
  });

  it('logs a claim that fails and claims again at the next poll', async () => {
    const outbox = memoryOutbox();
    outbox.add(1);
    outbox.failNext(1);
    const log = logger();
    const { loop, sends } = start({ outbox, logger: log });
    await until(() => sends.started.length === 1, 'the row sent after the failure');
    expect(log.warn).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error) }), expect.stringMatching(/could not claim/));
    expect(outbox.limits.length).toBeGreaterThanOrEqual(2);
    expect(loop.passes()).toBe(outbox.limits.length - 1);
  });

  it('stop: no claim after it, resolves once the sends under way have ended, and a waiting nextIdlePass rejects', async () => {
    const outbox = memoryOutbox();
    outbox.add(1);
    const { loop, sends } = start({ outbox, pollMs: 60_000 });
    await until(() => sends.started.length === 1, 'the row sent');
    const idle = loop.nextIdlePass();
    const stopped = vi.fn();
    const stopping = loop.stop().then(stopped);
    await expect(idle).rejects.toThrow(/stopped/);
    await settle();
    expect(stopped).not.toHaveBeenCalled();
    sends.release(1);
    await stopping;
    const claims = outbox.limits.length;
    outbox.add(1);
    await settle();
    expect(outbox.limits.length).toBe(claims);
    await expect(loop.nextIdlePass()).rejects.toThrow(/stopped/);
  });
});
