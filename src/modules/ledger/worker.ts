import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../../db/client.js';
import type { Logger } from '../../log.js';
import type { RecordFilter } from '../admin/records.js';
import type { Audit } from '../audit/service.js';
import { ledgerRow } from './columns.js';
import { ChunkSink, csvWriter, LeaseLost, xlsxWriter } from './file-writers.js';
import { ledgerRepo, type Cursor, type ExportRow } from './repo.js';
import { auditedFilters } from './service.js';

export interface LedgerWorkerOptions {
  db: Db;
  audit: Audit;
  logger: Logger;
  now: () => number;
  /** How long a claim holds an export without news from its worker (renewed after every batch). */
  leaseMs: number;
  /** Records read and written per batch. */
  batchSize: number;
  /** How often a worker looks for exports that nobody holds (new ones on this process wake it at once). */
  pollMs: number;
  /**
   * After each batch the worker pauses this many times as long as the batch took: on PGlite
   * (one connection for everything) a running export would otherwise hold up every request.
   */
  giveWay: number;
}

export interface LedgerWorker {
  /** An export was asked for: look now. */
  wake(): void;
  /** Stops after the current batch; an unfinished export is left for the next worker. */
  stop(): Promise<void>;
}

/** Attempts after which an export is given up (a stop or a crash counts as one). */
const MAX_ATTEMPTS = 5;

/**
 * The export worker: one export at a time per process, claimed with a lease from the
 * `ledger_exports` table, so exports survive a restart (a stopped worker hands its export back;
 * a dead one's lease runs out) and any replica may take them.
 */
export function startLedgerWorker(o: LedgerWorkerOptions): LedgerWorker {
  let stopped = false;
  let wakeUp: (() => void) | null = null;
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        wakeUp = null;
        resolve();
      };
      const timer = setTimeout(end, ms);
      wakeUp = end;
    });

  const loop = (async () => {
    while (!stopped) {
      let job: ExportRow | null = null;
      try {
        job = await ledgerRepo.claim(o.db, o.now(), o.leaseMs);
      } catch (err) {
        o.logger.warn({ err }, 'ledger export: claim failed');
      }
      if (job) await runExport(o, job, () => stopped);
      else await nap(o.pollMs);
    }
  })();

  return {
    wake: () => wakeUp?.(),
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
    },
  };
}

/** One attempt at an export, to its end, to a stop, or to a failure recorded on the row. */
async function runExport(o: LedgerWorkerOptions, job: ExportRow, stopping: () => boolean): Promise<void> {
  const log = o.logger.child({ ledgerExport: job.id, attempt: job.attempts });
  if (job.attempts > MAX_ATTEMPTS) {
    await ledgerRepo.fenced(o.db, job.id, job.attempts, { status: 'failed', error: '多次尝试未能完成', leaseUntil: null, finishedAt: seconds(o) });
    return;
  }
  try {
    const outcome = await produce(o, job, stopping);
    if (outcome === 'stopped') {
      await ledgerRepo.fenced(o.db, job.id, job.attempts, { leaseUntil: null });
      log.info('ledger export: handed back at shutdown');
    }
  } catch (err) {
    if (err instanceof LeaseLost) return log.warn('ledger export: another worker holds it now');
    log.error({ err }, 'ledger export failed');
    // Tried again after a pause (the next claim), up to MAX_ATTEMPTS.
    await ledgerRepo.fenced(o.db, job.id, job.attempts, { leaseUntil: o.now() + 5000, error: String((err as Error).message).slice(0, 500) }).catch(() => false);
  }
}

const seconds = (o: { now: () => number }) => Math.floor(o.now() / 1000);

/** Reads the records batch by batch (keyset, newest first) into the file, renewing the lease. */
async function produce(o: LedgerWorkerOptions, job: ExportRow, stopping: () => boolean): Promise<'done' | 'stopped'> {
  const { db } = o;
  const filter = job.filters as RecordFilter;
  const total = await ledgerRepo.countRecords(db, filter, job.maxId);
  if (!(await ledgerRepo.fenced(db, job.id, job.attempts, { rowsTotal: total, leaseUntil: o.now() + o.leaseMs }))) throw new LeaseLost();
  const sink = new ChunkSink((seq, data) => ledgerRepo.putChunk(db, job.id, job.attempts, seq, data));
  sink.on('error', () => undefined); // seen through `errored` and the writers' promises
  const writer = job.format === 'csv' ? csvWriter(sink) : xlsxWriter(sink);
  const rowOptions = { now: seconds(o), fullPhones: job.fullPhones };
  let cursor: Cursor = null;
  let done = 0;
  for (;;) {
    if (stopping()) {
      sink.destroy();
      return 'stopped';
    }
    const started = performance.now();
    const rows = await ledgerRepo.batch(db, filter, job.maxId, cursor, o.batchSize);
    if (rows.length === 0) break;
    await writer.add(rows.map((r) => ledgerRow(r, rowOptions)));
    if (sink.errored) throw sink.errored;
    done += rows.length;
    const last = rows[rows.length - 1]!;
    cursor = { createdAt: last.created_at, id: last.id };
    if (!(await ledgerRepo.fenced(db, job.id, job.attempts, { rowsDone: done, leaseUntil: o.now() + o.leaseMs }))) throw new LeaseLost();
    if (o.giveWay > 0) await sleep(Math.min(1000, (performance.now() - started) * o.giveWay));
  }
  await writer.finish();
  await db.transaction(async (tx) => {
    const set = { status: 'done', rowsDone: done, bytes: sink.bytes, leaseUntil: null, error: null, finishedAt: seconds(o) };
    if (!(await ledgerRepo.fenced(tx, job.id, job.attempts, set))) throw new LeaseLost();
    await o.audit.record(tx, {
      actor: { kind: 'admin', id: String(job.adminId) },
      action: 'ledger.export.done',
      targetType: 'ledger_export',
      targetId: String(job.id),
      detail: { format: job.format, rows: done, bytes: sink.bytes, full_phones: job.fullPhones, filters: auditedFilters(job.filters as RecordFilter) },
    });
  });
  return 'done';
}
