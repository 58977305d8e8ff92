import { chmodSync, createWriteStream, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Database } from './client.js';
import type { Logger } from '../log.js';

/**
 * Online backups of the embedded database (ADR 0008). PGlite runs inside the service process,
 * so only that process can copy it consistently: it listens on a Unix socket beside the data
 * directory (`<dir>.backup.sock`, mode 0600: whoever may connect may read the data directory
 * anyway), and `npm run backup` asks it for a copy there. The copy is PGlite's own
 * `dumpDataDir()`, a tarball taken while no query runs (PGlite's query lock): a crash-consistent
 * image that PGlite recovers like any restart after a crash, with every committed transaction
 * and none of a transaction still open. It is gzipped after the lock is released, off the event
 * loop: requests wait only for the copy itself. PostgreSQL needs none of this (pg_dump).
 *
 * The protocol, one request per connection: the client writes `backup\n` (or `ping\n`); the
 * service answers one JSON line, `{"ok":true,"bytes":N}` followed by exactly N bytes of the
 * gzipped tarball, or `{"ok":false,"error":"…"}`.
 */

/** The embedded database's directory of a DATABASE_URL; null for PostgreSQL or PGlite in memory. */
export function pgliteDir(databaseUrl: string): string | null {
  if (!databaseUrl.startsWith('pglite://')) return null;
  const location = databaseUrl.slice('pglite://'.length);
  return location === '' || location === 'memory' ? null : resolve(location);
}

/** Where the service holding that embedded database listens for backup requests. */
export function backupSocketPath(databaseUrl: string): string | null {
  const dir = pgliteDir(databaseUrl);
  return dir ? `${dir}.backup.sock` : null;
}

/** What the service needs of PGlite (drizzle keeps the client as `db.$client`). */
interface Dumpable {
  dumpDataDir(compression: 'none'): Promise<Blob>;
}

export interface BackupSocket {
  /** The socket's path while listening; null when there is nothing to serve (PostgreSQL, memory). */
  path: string | null;
  close(): Promise<void>;
}

const gzipAsync = promisify(gzip);
const NOTHING: BackupSocket = { path: null, close: async () => {} };
/** One request line at most this long; a connection idle this long is dropped. */
const MAX_LINE = 64;
const IDLE_MS = 60_000;

/** Listens for backup requests when the database is an embedded one in a directory. */
export async function startBackupSocket(deps: { database: Database; databaseUrl: string; logger: Logger }): Promise<BackupSocket> {
  const path = backupSocketPath(deps.databaseUrl);
  const client = (deps.database.db as unknown as { $client?: Partial<Dumpable> }).$client;
  if (deps.database.kind !== 'pglite' || !path) return NOTHING;
  if (typeof client?.dumpDataDir !== 'function') {
    deps.logger.warn('online backups unavailable: the PGlite client has no dumpDataDir');
    return NOTHING;
  }
  const dumpable = client as Dumpable;
  // One copy at a time: each holds the whole database in memory while it is sent.
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer((conn) => {
    const work = queue.then(() => serve(conn, dumpable, deps.logger));
    queue = work.catch(() => undefined);
  });
  const listening = await listenReplacingStale(server, path, deps.logger);
  if (!listening) return NOTHING;
  chmodSync(path, 0o600);
  deps.logger.info({ socket: path }, 'online backups: npm run backup asks here');
  return {
    path,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** Listens on `path`; a socket file left by a killed process is removed first, a live one is left alone. */
async function listenReplacingStale(server: Server, path: string, logger: Logger): Promise<boolean> {
  const listen = () =>
    new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(path, () => {
        server.off('error', fail);
        ok();
      });
    });
  try {
    await listen();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      logger.error({ err, socket: path }, 'online backups unavailable: cannot listen on the backup socket');
      return false;
    }
  }
  if (await serviceAnswers(path)) {
    logger.error({ socket: path }, 'another process answers on this database’s backup socket: two processes must never open one PGlite directory');
    return false;
  }
  unlinkSync(path);
  await listen();
  return true;
}

async function serve(conn: Socket, db: Dumpable, logger: Logger): Promise<void> {
  conn.setTimeout(IDLE_MS, () => conn.destroy());
  conn.on('error', () => {});
  const line = await readLine(conn);
  if (line === 'ping') {
    conn.end(`${JSON.stringify({ ok: true })}\n`);
    return;
  }
  if (line !== 'backup') {
    conn.end(`${JSON.stringify({ ok: false, error: 'unknown request' })}\n`);
    return;
  }
  const started = Date.now();
  try {
    const tar = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
    const lockedMs = Date.now() - started;
    const body = await gzipAsync(tar, { level: 6 });
    const tookMs = Date.now() - started;
    logger.info({ bytes: body.length, lockedMs, tookMs }, 'online backup of the embedded database taken');
    conn.write(`${JSON.stringify({ ok: true, bytes: body.length, locked_ms: lockedMs, took_ms: tookMs })}\n`);
    conn.end(body);
  } catch (err) {
    logger.error({ err }, 'online backup failed');
    conn.end(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`);
  }
}

function readLine(conn: Socket): Promise<string> {
  return new Promise((done) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end >= 0 || text.length > MAX_LINE) {
        conn.off('data', onData);
        done((end >= 0 ? text.slice(0, end) : text).trim());
      }
    };
    conn.on('data', onData);
    conn.once('end', () => done(text.trim()));
  });
}

/** The answer's first line and the socket, the rest of its bytes still to come. */
async function ask(path: string, request: 'backup' | 'ping'): Promise<{ head: Record<string, unknown>; rest: Buffer; conn: Socket }> {
  const conn = connect(path);
  return new Promise((done, fail) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(0x0a);
      if (end < 0) return;
      conn.off('data', onData);
      conn.pause();
      try {
        done({ head: JSON.parse(buffered.subarray(0, end).toString('utf8')) as Record<string, unknown>, rest: buffered.subarray(end + 1), conn });
      } catch (err) {
        conn.destroy();
        fail(err);
      }
    };
    conn.once('error', fail);
    conn.once('connect', () => conn.write(`${request}\n`));
    conn.on('data', onData);
    conn.once('end', () => fail(new Error('the service closed the backup connection without an answer')));
  });
}

/** True when a service answers on that backup socket (so it holds the database). */
export async function serviceAnswers(path: string): Promise<boolean> {
  try {
    const { head, conn } = await ask(path, 'ping');
    conn.destroy();
    return head.ok === true;
  } catch {
    return false;
  }
}

/** Thrown by takeOnlineBackup when no service listens on the socket. */
export class NoServiceError extends Error {}

/** Asks the running service for a copy of its embedded database and writes it to `file`. */
export async function takeOnlineBackup(path: string, file: string): Promise<{ bytes: number; tookMs: number; lockedMs: number }> {
  let answer: Awaited<ReturnType<typeof ask>>;
  try {
    answer = await ask(path, 'backup');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') throw new NoServiceError(`no Laifang service answers at ${path}`);
    throw err;
  }
  const { head, rest, conn } = answer;
  if (head.ok !== true || typeof head.bytes !== 'number') {
    conn.destroy();
    throw new Error(`the service could not take the backup: ${String(head.error ?? 'no reason given')}`);
  }
  const expected = head.bytes;
  const out = createWriteStream(file, { mode: 0o600 });
  let received = 0;
  await new Promise<void>((done, fail) => {
    const write = (chunk: Buffer) => {
      received += chunk.length;
      if (!out.write(chunk)) {
        conn.pause();
        out.once('drain', () => conn.resume());
      }
    };
    write(rest);
    conn.on('data', write);
    conn.once('error', fail);
    out.once('error', fail);
    conn.once('end', () => out.end(() => done()));
    conn.resume();
  });
  if (received !== expected) throw new Error(`the backup was cut short: ${received} of ${expected} bytes`);
  const ms = (v: unknown) => (typeof v === 'number' ? v : 0);
  return { bytes: received, tookMs: ms(head.took_ms), lockedMs: ms(head.locked_ms) };
}
