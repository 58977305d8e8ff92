import { once } from 'node:events';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { LEDGER_COLUMNS } from './columns.js';

/** Pieces of the file stored in the database: at most this many bytes each. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * Gathers the bytes of a file into pieces of CHUNK_BYTES and hands each to `put` (the fenced
 * insert); a write is acknowledged once its piece is stored, so the writer above waits for the
 * database instead of piling up bytes in memory. `put` answering false (the lease was lost)
 * fails the stream.
 */
export class ChunkSink extends Writable {
  private parts: Buffer[] = [];
  private size = 0;
  private seq = 0;
  bytes = 0;

  constructor(private readonly put: (seq: number, data: Buffer) => Promise<boolean>) {
    super({ highWaterMark: CHUNK_BYTES });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    this.bytes += chunk.length;
    if (this.size < CHUNK_BYTES) return done();
    this.flush().then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.flush().then(() => done(), done);
  }

  private async flush(): Promise<void> {
    if (this.size === 0) return;
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    if (!(await this.put(this.seq++, data))) throw new LeaseLost();
  }
}

/** The export's lease was taken over by another worker: this attempt stops writing. */
export class LeaseLost extends Error {
  constructor() {
    super('ledger export: lease lost');
    this.name = 'LeaseLost';
  }
}

/** Writes the ledger's rows into a sink; `finish` resolves once every byte is stored. */
export interface LedgerFileWriter {
  add(rows: ReadonlyArray<ReadonlyArray<string | number>>): Promise<void>;
  finish(): Promise<void>;
}

export const CONTENT_TYPES = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8',
} as const;

/**
 * `.xlsx` through ExcelJS's streaming WorkbookWriter: each row is committed (serialised into
 * the zip) as it is added, so memory holds a batch, not the sheet.
 */
export function xlsxWriter(sink: ChunkSink): LedgerFileWriter {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: sink, useStyles: true, useSharedStrings: false });
  const ws = wb.addWorksheet('访客台账', { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = LEDGER_COLUMNS.map((c, i) => ({ header: c.header, key: `c${i}`, width: c.width }));
  ws.getRow(1).font = { bold: true };
  ws.getRow(1).commit();
  return {
    async add(rows) {
      for (const r of rows) ws.addRow([...r]).commit();
      await drained(sink);
    },
    async finish() {
      ws.commit();
      await wb.commit();
    },
  };
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
const csvField = (v: string | number) => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const csvLine = (cells: ReadonlyArray<string | number>) => `${cells.map(csvField).join(',')}\r\n`;

/** `.csv` in UTF-8 with a byte-order mark (Excel then reads the Chinese right), CRLF lines. */
export function csvWriter(sink: ChunkSink): LedgerFileWriter {
  sink.write(`\uFEFF${csvLine(LEDGER_COLUMNS.map((c) => c.header))}`);
  return {
    async add(rows) {
      sink.write(rows.map(csvLine).join(''));
      await drained(sink);
    },
    async finish() {
      sink.end();
      await once(sink, 'finish');
    },
  };
}

/** Waits while the sink holds more than it should (its pieces are being stored). */
async function drained(sink: Writable): Promise<void> {
  if (sink.writableNeedDrain) await once(sink, 'drain');
}
