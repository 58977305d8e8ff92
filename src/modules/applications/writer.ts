import { createBatcher } from '../../db/batcher.js';
import type { Database } from '../../db/client.js';
import { createBatch, type BatchResult, type NewApplicationBatchItem } from './repo/create-applications.js';

/**
 * What became of one application: written (its id), refused at its caller's hourly limit (the
 * caller's window as the statement left it), or its Idempotency-Key was already taken.
 */
export type WriteResult = BatchResult | { keyTaken: true };

export interface ApplicationWriter {
  write(item: NewApplicationBatchItem): Promise<WriteResult>;
}

/** One application's outcome inside a run: a failure is its own, not the run's. */
type Outcome = WriteResult | { failed: unknown };

/** A unique violation on the Idempotency-Key's primary key, from either driver. */
function isKeyTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string; message?: string } | null;
  return e?.code === '23505' && (e.constraint === 'idempotency_keys_owner_key_pk' || String(e.message).includes('idempotency_keys_owner_key_pk'));
}

/**
 * Writes applications in batches (src/db/batcher.ts): the applications that arrive while a
 * statement runs are written together by the next one (repo/create-applications.ts), one
 * statement at a time, so under load one round trip and one commit serve many; at low load each
 * application is its own statement at once. Each application is answered only after the
 * statement that wrote it committed, and one caller's applications are written in arrival order
 * (a batch may hold several of them: its window takes as many as its limit leaves room for, the
 * first ones first). When a batch's statement fails (an Idempotency-Key already taken, or
 * anything else), nothing of it was written, and its applications are written again one by one
 * within the same run, so one application's failure is its own and the order holds.
 */
export function createApplicationWriter(opts: { database: Database; perHour: number; now: () => number; maxBatch?: number }): ApplicationWriter {
  const write = (items: NewApplicationBatchItem[]) => createBatch(opts.database, items, opts.perHour, new Date(opts.now()));

  async function writeOne(item: NewApplicationBatchItem): Promise<Outcome> {
    try {
      const [result] = await write([item]);
      return result!;
    } catch (err) {
      return isKeyTaken(err) ? { keyTaken: true } : { failed: err };
    }
  }

  async function run(items: NewApplicationBatchItem[]): Promise<Outcome[]> {
    if (items.length === 1) return [await writeOne(items[0]!)];
    try {
      return await write(items);
    } catch {
      const outcomes: Outcome[] = [];
      for (const item of items) outcomes.push(await writeOne(item));
      return outcomes;
    }
  }

  const batcher = createBatcher<NewApplicationBatchItem, Outcome>({ run, maxBatch: opts.maxBatch ?? 100 });
  return {
    async write(item) {
      const outcome = await batcher.push(item);
      if ('failed' in outcome) throw outcome.failed;
      return outcome;
    },
  };
}
