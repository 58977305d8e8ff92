import pg from 'pg';
import { IDENT } from './driver.js';

const HEARTBEAT_MS = 5000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** One connection of the listener, with its heartbeat once listening. */
interface Connection {
  client: pg.Client;
  beat: NodeJS.Timeout | null;
  lost: boolean;
  /** A heartbeat query is under way. */
  beating: boolean;
}

/**
 * LISTEN on a connection of its own (a pooled one would be handed back, and LISTEN with it).
 * Lost: the listener is told at once (`onState(false)`) and reconnects after 0.5 s, doubling to
 * 30 s; `onState(true)` once it listens again.
 */
class PgListener {
  private closed = false;
  private current: Connection | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delayMs = FIRST_DELAY_MS;
  private listening = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onPayload: (payload: string) => void,
    private readonly onState: (listening: boolean) => void,
  ) {}

  async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000, keepAlive: true });
    const conn: Connection = { client, beat: null, lost: false, beating: false };
    this.current = conn;
    client.on('error', () => this.lose(conn));
    client.on('end', () => this.lose(conn));
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.onPayload(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch {
      this.lose(conn);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.delayMs = FIRST_DELAY_MS;
    this.state(true);
    conn.beat = setInterval(() => this.heartbeat(conn), HEARTBEAT_MS);
    conn.beat.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.state(false);
    const conn = this.current;
    this.current = null;
    if (!conn) return;
    if (conn.beat) clearInterval(conn.beat);
    const { client } = conn;
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => {});
    await client.end().catch(() => {});
  }

  private state(on: boolean): void {
    if (on === this.listening) return;
    this.listening = on;
    this.onState(on);
  }

  /** The connection is gone (or never came): drop it and try again later. */
  private lose(conn: Connection): void {
    if (conn.lost) return;
    conn.lost = true;
    if (conn.beat) clearInterval(conn.beat);
    if (this.current === conn) this.current = null;
    conn.client.removeAllListeners('notification');
    void conn.client.end().catch(() => {});
    this.retry();
  }

  private retry(): void {
    this.state(false);
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(this.delayMs * 2, MAX_DELAY_MS);
  }

  /**
   * A connection can die without a word (a cable, a firewall): then notifications stop and
   * nothing says so. A query every few seconds notices within HEARTBEAT_MS × 2.
   */
  private heartbeat(conn: Connection): void {
    if (conn.lost || conn.beating) return;
    conn.beating = true;
    let timeout: NodeJS.Timeout | null = null;
    void Promise.race([
      conn.client.query('select 1'),
      new Promise((_, reject) => {
        timeout = setTimeout(() => reject(new Error('listener heartbeat timed out')), HEARTBEAT_MS);
      }),
    ]).then(
      () => {
        conn.beating = false;
        if (timeout) clearTimeout(timeout);
      },
      () => {
        conn.beating = false;
        this.lose(conn);
      },
    );
  }
}

/** Database.listen on PostgreSQL. */
export async function listenPg(
  url: string,
  channel: string,
  onPayload: (payload: string) => void,
  onState: (listening: boolean) => void,
): Promise<{ close(): Promise<void> }> {
  if (!IDENT.test(channel)) throw new Error(`not a channel name: ${channel}`);
  const listener = new PgListener(url, channel, onPayload, onState);
  await listener.connect();
  return { close: () => listener.close() };
}
