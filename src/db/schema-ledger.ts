import { bigint, bigserial, boolean, customType, index, integer, jsonb, pgTable, primaryKey, text, varchar } from 'drizzle-orm/pg-core';

/** Raw bytes: a Buffer on PostgreSQL, a Uint8Array on PGlite (callers wrap it in a Buffer). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

/**
 * Visit-ledger exports (访客台账) an admin asked for: the listing's filters, the format, whether
 * phones are shown in full (then with the admin's reason), and the job's state. `max_id` fixes
 * the records as they were when asked (later applications are not added halfway). A worker
 * claims a row by setting `lease_until` (ms) and bumping `attempts`; every write of the job is
 * fenced on `attempts`, so a runner whose lease was taken over can no longer write: one export
 * is never produced twice at once. Rows (and their file) go `LEDGER_EXPORT_KEEP_H` after they
 * were asked for, at the retention sweep.
 */
export const ledgerExports = pgTable(
  'ledger_exports',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    adminId: bigint('admin_id', { mode: 'number' }).notNull(),
    /** 'xlsx' | 'csv' */
    format: varchar('format', { length: 8 }).notNull(),
    filters: jsonb('filters').notNull(),
    fullPhones: boolean('full_phones').notNull().default(false),
    reason: varchar('reason', { length: 200 }),
    maxId: bigint('max_id', { mode: 'number' }).notNull(),
    /** queued → running → done | failed */
    status: varchar('status', { length: 12 }).notNull().default('queued'),
    rowsTotal: integer('rows_total'),
    rowsDone: integer('rows_done').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    leaseUntil: bigint('lease_until', { mode: 'number' }),
    error: text('error'),
    bytes: bigint('bytes', { mode: 'number' }),
    /** Unix seconds. */
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    finishedAt: bigint('finished_at', { mode: 'number' }),
  },
  (t) => [index('ledger_exports_created_idx').on(t.createdAt)],
);

/** The file of an export, in pieces of at most 1 MB, written by the attempt that holds the lease. */
export const ledgerExportChunks = pgTable(
  'ledger_export_chunks',
  {
    exportId: bigint('export_id', { mode: 'number' })
      .notNull()
      .references(() => ledgerExports.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.exportId, t.seq] })],
);
