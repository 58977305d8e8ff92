import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { openPg } from './pg.js';
import { openPglite } from './pglite.js';
import type { Schema } from './schema.js';

export { MIGRATIONS_DIR } from './driver.js';
export { isDatabaseUnavailable } from './unavailable.js';

export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/** The minimal SQL surface pg-boss needs (its `db` option), bound to a pool or to one transaction. */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** A statement of the hot paths, written once as SQL (no query building per call). */
export interface Statement {
  /** On PostgreSQL the name of a prepared statement: parsed and planned once per connection. */
  name: string;
  text: string;
}

export interface Database {
  kind: 'pglite' | 'pg';
  db: Db;
  /** Runs a statement outside a transaction or, given `tx`, inside that drizzle transaction. */
  query<T>(stmt: Statement, values: unknown[], tx?: Db): Promise<T[]>;
  /** For pg-boss outside transactions. */
  executor: SqlExecutor;
  /** The same, bound to an open drizzle transaction (so a job is sent iff the transaction commits). */
  executorFor(tx: Db): SqlExecutor;
  ping(): Promise<void>;
  /** Connection use now (metrics): PostgreSQL's pool, or PGlite's one connection (busy while work is in flight). */
  connections(): Connections;
  /**
   * LISTEN on a channel. `onState(true)` once listening (again), `onState(false)` when the
   * listening connection is lost: notifications may have been missed until the next `true`.
   * PostgreSQL: one dedicated connection, reconnected with backoff. PGlite: notifications of a
   * transaction are delivered before its commit returns.
   */
  listen(channel: string, onPayload: (payload: string) => void, onState: (listening: boolean) => void): Promise<{ close(): Promise<void> }>;
  /** Applies the committed SQL migrations (idempotent). */
  migrate(): Promise<void>;
  /**
   * Runs start-up work that creates database objects outside the migrations (pg-boss installs
   * its schema) one process at a time: two replicas or workers starting together on a new
   * database would race on CREATE SCHEMA (a unique violation pg-boss does not expect).
   */
  serialized<T>(work: () => Promise<T>): Promise<T>;
  /**
   * VACUUMs these tables (null: the whole database, with ANALYZE) and answers which it did. On
   * PostgreSQL only one replica at a time: the others answer [] at once (src/db/upkeep.ts).
   */
  vacuum(tables: readonly string[] | null): Promise<string[]>;
  close(): Promise<void>;
}

/** How many connections there are and are used; `waiting`: work queued for one. */
export interface Connections {
  max: number;
  open: number;
  idle: number;
  waiting: number;
}

export interface OpenOptions {
  /** pg only: pool size. */
  poolSize?: number;
}

/** `pglite://DIR`, `pglite://memory` (src/db/pglite.ts) or a PostgreSQL URL (src/db/pg.ts). */
export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<Database> {
  if (url.startsWith('pglite://')) return openPglite(url.slice('pglite://'.length));
  return openPg(url, opts);
}
