import autocannon from 'autocannon';
import { machineBusySeconds, postgresCpu, postgresCpuDelta, processTreeCpuSeconds } from './proc.js';

export interface LoadOptions {
  name: string;
  /** Base URL of the server under load (must be on 127.0.0.1). */
  url: string;
  /** The process serving `url`, for its CPU share. */
  serverPid: number;
  connections: number;
  durationSeconds: number;
  requests: autocannon.RequestSpec[];
}

export interface LoadResult {
  name: string;
  seconds: number;
  /** 2xx answers. */
  ok: number;
  /** Anything else (non-2xx, errors, timeouts): a run with any is not a valid measurement. */
  failed: number;
  statusCodes: Record<string, number>;
  rps: number;
  /** Latency of 2xx answers, ms (exact, from every answer). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Share of one core over the run. */
  cpu: { server: number; loadgen: number; postgres: number; machine: number; other: number };
  /** Share of the run the server's event loop was busy (1 = saturated: its one thread is the bound). */
  eventLoop?: number;
  /** Requests the simulators received per 2xx answer, by simulator (service runs only). */
  upstreamPerRequest?: Record<string, number>;
  /** Runs that write applications: messages still in the outbox when the load stopped, and how long until all were sent. */
  outbox?: { pendingAtEnd: number; drainedSeconds: number | null };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`load only goes to this machine, not ${host}`);
}

/** One bounded autocannon run (fixed duration), with exact latency percentiles and CPU shares. */
export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  assertLoopback(opts.url);
  const latencies: number[] = [];
  const cpu0 = { server: processTreeCpuSeconds(opts.serverPid), loadgen: process.cpuUsage(), pg: postgresCpu(), machine: machineBusySeconds() };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: opts.url, connections: opts.connections, duration: opts.durationSeconds, timeout: 10, requests: opts.requests },
      (err, result) => {
        if (err) return reject(err);
        const seconds = (performance.now() - t0) / 1000;
        const lg = process.cpuUsage(cpu0.loadgen);
        const cpu = {
          server: (processTreeCpuSeconds(opts.serverPid) - cpu0.server) / seconds,
          loadgen: (lg.user + lg.system) / 1e6 / seconds,
          postgres: postgresCpuDelta(cpu0.pg, postgresCpu()) / seconds,
          machine: (machineBusySeconds() - cpu0.machine) / seconds,
          other: 0,
        };
        // Anything else that ran on the machine meanwhile (another test suite would spoil the run).
        cpu.other = Math.max(0, cpu.machine - cpu.server - cpu.loadgen - cpu.postgres);
        const sorted = Float64Array.from(latencies).sort();
        const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count]));
        const ok = result['2xx'];
        resolve({
          name: opts.name,
          seconds: result.duration,
          ok,
          failed: result.non2xx + result.errors + result.timeouts,
          statusCodes,
          rps: ok / result.duration,
          p50: percentile(sorted, 0.5),
          p90: percentile(sorted, 0.9),
          p99: percentile(sorted, 0.99),
          max: sorted.length ? sorted[sorted.length - 1]! : NaN,
          mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
          cpu,
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** Picks uniformly from a list (for setupRequest). */
export function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

let quietWaitSeconds = 300;
/** How long waitForQuiet waits at most (`--quiet-wait`; short on a machine that other work keeps busy). */
export function setQuietWait(seconds: number): void {
  quietWaitSeconds = seconds;
}

/** Waits (bounded) until the machine is quiet: less than `maxCores` busy over a second. */
export async function waitForQuiet(maxCores = 0.3, maxWaitSeconds = quietWaitSeconds): Promise<number> {
  const started = Date.now();
  let warned = false;
  for (;;) {
    const a = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const busy = machineBusySeconds() - a;
    if (busy < maxCores || Date.now() - started > maxWaitSeconds * 1000) return busy;
    if (!warned) console.log(`  (machine busy: ${busy.toFixed(2)} cores used by something else; waiting up to ${maxWaitSeconds} s for quiet)`);
    warned = true;
  }
}
