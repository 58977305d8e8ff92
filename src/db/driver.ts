import { fileURLToPath } from 'node:url';
import type { Db } from './client.js';

/** What both drivers (src/db/pglite.ts, src/db/pg.ts) share. */

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/** A plain lower-case SQL identifier: what may be written into a statement's text. */
export const IDENT = /^[a-z_][a-z0-9_]*$/;

/** `schema.table` or `table` (the list is ours, but it ends up in SQL). */
export function vacuumTarget(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) throw new Error(`not a table name: ${table}`);
  return table;
}

/**
 * The driver client under a drizzle transaction (a pg PoolClient or a PGlite Transaction).
 * drizzle keeps it as `session.client` on both drivers (drizzle-orm 0.45, pinned); a test
 * proves that a job sent through it commits and rolls back with the transaction.
 */
export function sessionClient(tx: Db): unknown {
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client;
  if (!client) throw new Error('drizzle transaction has no session.client: drizzle-orm internals changed');
  return client;
}
