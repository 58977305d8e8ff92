import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { integrationEnv, type SimulatorEndpoints } from '../../src/simulators.js';

/**
 * The service as a real operating-system process (`node --import tsx src/main.ts`), for the
 * fault tests that kill it, restart it, run several of it, or take its database away.
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** The per-phone and global SMS caps far above what a fault test sends (its messages must not be capped). */
export const HIGH_SMS_CAPS = { SMS_PER_PHONE_PER_HOUR: '100000', SMS_PER_PHONE_PER_DAY: '1000000', SMS_GLOBAL_PER_HOUR: '10000000' };

/** Host-miss limits far above what a fault test's load makes; the product's own in PRODUCT_HOST_MISS_LIMITS. */
export const HIGH_HOST_MISS_LIMITS = { HOST_MISSES_PER_HOUR: '100000', HOST_MISSES_PER_ADDRESS_PER_HOUR: '0' };
export const PRODUCT_HOST_MISS_LIMITS = { HOST_MISSES_PER_HOUR: '5', HOST_MISSES_PER_ADDRESS_PER_HOUR: '30' };

/** The environment of a service process wired to the simulators, as a deployment would be. */
export function serviceEnv(o: {
  port: number;
  databaseUrl: string;
  sims: SimulatorEndpoints;
  storageDir: string;
  extra?: Record<string, string>;
}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    PORT: String(o.port),
    HOST: '127.0.0.1',
    DATABASE_URL: o.databaseUrl,
    SESSION_SECRET: 'fault-test-secret-fault-test-secret-0123456789',
    ...integrationEnv(o.sims),
    STORAGE_LOCAL_DIR: o.storageDir,
    RATE_LIMIT_PER_MINUTE: '0',
    APPLY_PER_HOUR: '100000',
    // A process killed between counting a host miss and taking it back leaves the count (the
    // limit errs towards refusing); the load's few visitors must not meet it after a few kills.
    ...HIGH_HOST_MISS_LIMITS,
    NOTIFY_POLL_MS: '500',
    // A job a killed worker had taken is retried after 5 s here (60 s by default).
    NOTIFY_EXPIRE_S: '5',
    NOTIFY_MAINTENANCE_S: '1',
    NOTIFY_RETRY_DELAY_S: '1',
    NOTIFY_RETRY_MAX_DELAY_S: '2',
    UPSTREAM_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'warn',
    ...HIGH_SMS_CAPS,
    ...o.extra,
  };
}

export class ServiceProcess {
  private child: ChildProcess | null = null;
  /** Everything the process wrote to stderr (warnings and errors at LOG_LEVEL=warn), across restarts. */
  stderr = '';
  /** Wall-clock instants of every SIGKILL sent. */
  readonly kills: number[] = [];
  /** Wall-clock instants of every spawn. */
  readonly spawns: number[] = [];
  /** Milliseconds from spawn to /readyz 200, per start. */
  readonly startupMs: number[] = [];

  constructor(
    readonly port: number,
    private readonly env: () => NodeJS.ProcessEnv,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The process's id while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Started by us and not exited on its own (a crash would show here). */
  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once /readyz answers 200. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.child) throw new Error('already running');
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: this.env(), stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => {
      // Bounded: a long run must not grow the test process without limit.
      this.stderr = (this.stderr + d.toString()).slice(-200_000);
    });
    this.child = proc;
    const spawned = Date.now();
    this.spawns.push(spawned);
    const deadline = spawned + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        this.child = null;
        throw new Error(`service on ${this.port} exited while starting: ${this.stderr.slice(-4000)}`);
      }
      const ok = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) {
        this.startupMs.push(Date.now() - spawned);
        return;
      }
      if (Date.now() > deadline) throw new Error(`service on ${this.port} not ready in ${timeoutMs} ms: ${this.stderr.slice(-4000)}`);
      await sleep(100);
    }
  }

  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGTERM (graceful), then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const proc = this.child;
    if (!proc) return;
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await this.signal('SIGTERM');
    clearTimeout(timer);
  }

  private signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.child;
    this.child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    if (sig === 'SIGKILL') this.kills.push(Date.now());
    return new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(sig);
    });
  }
}

export interface CallResult {
  status: number;
  body: any;
  /** Milliseconds from sending to the whole answer. */
  ms: number;
}

/**
 * One JSON call with a deadline (a hung request fails the test instead of hanging it). A
 * connection that is refused or reset (the process was killed) gives status 0.
 */
export async function call(
  base: string,
  method: string,
  path: string,
  o: { body?: unknown; token?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CallResult> {
  const started = Date.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...o.headers,
      },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* keep the text */
    }
    return { status: res.status, body, ms: Date.now() - started };
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
      throw new Error(`${method} ${path}: no answer in ${o.timeoutMs ?? 30_000} ms`);
    return { status: 0, body: null, ms: Date.now() - started };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitUntil(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, stepMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** min / median / p95 / max of a list of numbers (milliseconds), for the figures in RELIABILITY.md. */
export function summary(values: number[]): { n: number; min: number; p50: number; p95: number; max: number } {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0;
  return { n: v.length, min: v[0] ?? 0, p50: at(0.5), p95: at(0.95), max: v[v.length - 1] ?? 0 };
}
