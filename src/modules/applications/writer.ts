import type { Database } from '../../db/client.js';
import { applicationRepo, type BatchResult, type NewApplicationBatchItem } from './repo.js';

/**
 * What became of one application: written (its id), refused at its caller's hourly limit (the
 * caller's window as the statement left it), or its Idempotency-Key was already taken.
 */
export type WriteResult = BatchResult | { keyTaken: true };

export interface ApplicationWriter {
  write(item: NewApplicationBatchItem): Promise<WriteResult>;
}

interface Waiting {
  item: NewApplicationBatchItem;
  resolve(result: WriteResult): void;
  reject(err: unknown): void;
}

/** A unique violation on the Idempotency-Key's primary key, from either driver. */
function isKeyTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string; message?: string } | null;
  return e?.code === '23505' && (e.constraint === 'idempotency_keys_owner_key_pk' || String(e.message).includes('idempotency_keys_owner_key_pk'));
}

/**
 * Writes applications in batches: the applications that arrive while a statement runs are written
 * together by the next one (repo.createBatch), one statement at a time (two in flight were not
 * faster on 2 cores: bench/RESULTS.md, sixth and seventh passes). Nothing waits for a batch to fill: at low
 * load every application is its own statement at once; under load one statement, one round trip
 * and one commit serve many. Each application is answered only after the statement that wrote it
 * committed, and one caller's applications are written in arrival order (a batch may hold several
 * of them: its window row takes as many as its limit leaves room for, the first ones first).
 * When a batch's statement fails (an Idempotency-Key already taken, or anything else), nothing of
 * it was written and its applications are written again one by one, so one application's
 * failure is its own.
 */
export function createApplicationWriter(opts: { database: Database; perHour: number; now: () => number; maxBatch?: number }): ApplicationWriter {
  const maxBatch = opts.maxBatch ?? 100;
  const queue: Waiting[] = [];
  let writing = false;

  /** Writes a batch; onWritten runs as soon as its statement committed, before its applications are answered. */
  async function run(batch: Waiting[], onWritten?: () => void): Promise<void> {
    try {
      const results = await applicationRepo.createBatch(
        opts.database,
        batch.map((w) => w.item),
        opts.perHour,
        new Date(opts.now()),
      );
      onWritten?.();
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) {
        if (isKeyTaken(err)) batch[0]!.resolve({ keyTaken: true });
        else batch[0]!.reject(err);
        return;
      }
      for (const w of batch) await run([w]);
    }
  }

  function pump(): void {
    if (writing || queue.length === 0) return;
    writing = true;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      writing = false;
      pump();
    };
    // Once the batch committed, the next statement starts before this batch's answers are
    // given, so the database works while the answers are written. A failed batch is written
    // again one by one first, so one caller's applications stay in arrival order.
    void run(queue.splice(0, maxBatch), release).finally(release);
  }

  return {
    write(item) {
      return new Promise<WriteResult>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        pump();
      });
    },
  };
}
