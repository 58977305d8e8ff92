import { and, count, desc, eq, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { applications, ledgerExportChunks, ledgerExports } from '../../db/schema.js';
import { adminRecordColumns, recordFilterWhere, type AdminRecord, type RecordFilter } from '../admin/records.js';

export type ExportRow = typeof ledgerExports.$inferSelect;
/** Where a batch starts: after this (created_at, id), newest first. */
export type Cursor = { createdAt: number; id: number } | null;

const x = ledgerExports;
const a = applications;

/** The records of an export: the listing's filter, up to the newest id when it was asked for. */
const exportWhere = (db: Db, f: RecordFilter, maxId: number) => and(recordFilterWhere(db, f), lte(a.id, maxId));

export const ledgerRepo = {
  async maxApplicationId(db: Db): Promise<number> {
    const [row] = await db.select({ m: sql<string | null>`max(${a.id})` }).from(a);
    return Number(row?.m ?? 0);
  },

  async insert(tx: Db, row: typeof ledgerExports.$inferInsert): Promise<number> {
    const [r] = await tx.insert(x).values(row).returning({ id: x.id });
    return r!.id;
  },

  async get(db: Db, id: number): Promise<ExportRow | null> {
    const [row] = await db.select().from(x).where(eq(x.id, id)).limit(1);
    return row ?? null;
  },

  async listOf(db: Db, adminId: number, limit: number): Promise<ExportRow[]> {
    return db.select().from(x).where(eq(x.adminId, adminId)).orderBy(desc(x.id)).limit(limit);
  },

  async unfinishedOf(db: Db, adminId: number): Promise<number> {
    const [r] = await db
      .select({ n: count() })
      .from(x)
      .where(and(eq(x.adminId, adminId), inArray(x.status, ['queued', 'running'])));
    return r?.n ?? 0;
  },

  /**
   * Takes the oldest export nobody holds (queued, or running under a lease that ran out: its
   * process died or was stopped): a new attempt with a lease, its earlier pieces deleted. One
   * statement under SKIP LOCKED, so two workers never take the same row.
   */
  async claim(db: Db, nowMs: number, leaseMs: number): Promise<ExportRow | null> {
    return db.transaction(async (tx) => {
      const [row] = await tx
        .update(x)
        .set({ status: 'running', attempts: sql`${x.attempts} + 1`, leaseUntil: nowMs + leaseMs, rowsDone: 0 })
        .where(
          eq(
            x.id,
            sql`(select id from ${x} where status in ('queued', 'running') and (lease_until is null or lease_until < ${nowMs})
                 order by id limit 1 for update skip locked)`,
          ),
        )
        .returning();
      if (row) await tx.delete(ledgerExportChunks).where(eq(ledgerExportChunks.exportId, row.id));
      return row ?? null;
    });
  },

  /** Changes the export only while `attempt` holds it; false: the lease was lost. */
  async fenced(db: Db, id: number, attempt: number, set: Partial<typeof ledgerExports.$inferInsert>): Promise<boolean> {
    const rows = await db
      .update(x)
      .set(set)
      .where(and(eq(x.id, id), eq(x.attempts, attempt), eq(x.status, 'running')))
      .returning({ id: x.id });
    return rows.length === 1;
  },

  /** Appends a piece of the file while `attempt` holds the export; false: the lease was lost. */
  async putChunk(db: Db, id: number, attempt: number, seq: number, data: Buffer): Promise<boolean> {
    const c = ledgerExportChunks;
    const rows = await db.execute(
      sql`insert into ${c} (export_id, seq, data)
          select ${id}::bigint, ${seq}::int, ${data}::bytea where exists (select 1 from ${x} where id = ${id} and attempts = ${attempt} and status = 'running')
          returning seq`,
    );
    return rowsOf(rows).length === 1;
  },

  async chunk(db: Db, id: number, seq: number): Promise<Buffer | null> {
    const c = ledgerExportChunks;
    const [row] = await db
      .select({ data: c.data })
      .from(c)
      .where(and(eq(c.exportId, id), eq(c.seq, seq)))
      .limit(1);
    return row ? Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength) : null;
  },

  async countRecords(db: Db, f: RecordFilter, maxId: number): Promise<number> {
    const [r] = await db
      .select({ n: count() })
      .from(a)
      .where(exportWhere(db, f, maxId));
    return r?.n ?? 0;
  },

  /** The next `size` records after `after`, newest first (the listing's order). */
  async batch(db: Db, f: RecordFilter, maxId: number, after: Cursor, size: number): Promise<AdminRecord[]> {
    const keyset = after ? sql`(${a.createdAt}, ${a.id}) < (${after.createdAt}, ${after.id})` : undefined;
    const rows = await db
      .select(adminRecordColumns)
      .from(a)
      .where(and(exportWhere(db, f, maxId), keyset))
      .orderBy(desc(a.createdAt), desc(a.id))
      .limit(size);
    return rows as AdminRecord[];
  },
};

/** drizzle's `execute` answers the rows (PGlite) or a result with `rows` (pg). */
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
