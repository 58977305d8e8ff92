/**
 * Items that arrive while a run is under way are handled together by the next run: one run in
 * flight, none waiting for a batch to fill. At low load every item is its own run at once; under
 * load one statement, one round trip and one commit serve many items. The writer of
 * applications and the notification worker's recording of outcomes are built on it.
 *
 * `run` answers one result per item, in order (a per-item failure is a result, not a throw).
 * When `run` throws, every item of that run is rejected with the error. The next run starts as
 * soon as a run has finished, before its items' callers are resumed, so the database works while
 * they go on.
 */
export interface Batcher<I, O> {
  push(item: I): Promise<O>;
  /** Items queued or in the run under way. */
  size(): number;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
}

interface Waiting<I, O> {
  item: I;
  resolve(result: O): void;
  reject(err: unknown): void;
}

export function createBatcher<I, O>(opts: { run(items: I[]): Promise<O[]>; maxBatch?: number }): Batcher<I, O> {
  const maxBatch = opts.maxBatch ?? 100;
  const queue: Array<Waiting<I, O>> = [];
  let running = 0;
  let idleWaiters: Array<() => void> = [];

  function settleIdle(): void {
    if (queue.length > 0 || running > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  function pump(): void {
    if (running > 0 || queue.length === 0) return;
    const batch = queue.splice(0, maxBatch);
    running = batch.length;
    void opts.run(batch.map((w) => w.item)).then(
      (results) => {
        running = 0;
        pump();
        if (results.length !== batch.length) {
          const err = new Error(`batch run answered ${results.length} results for ${batch.length} items`);
          for (const w of batch) w.reject(err);
        } else batch.forEach((w, i) => w.resolve(results[i] as O));
        settleIdle();
      },
      (err: unknown) => {
        running = 0;
        pump();
        for (const w of batch) w.reject(err);
        settleIdle();
      },
    );
  }

  return {
    push(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        pump();
      });
    },
    size: () => queue.length + running,
    idle() {
      if (queue.length === 0 && running === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
