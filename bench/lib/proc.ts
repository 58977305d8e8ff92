import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildStart } from './child.js';

export interface Child {
  url: string;
  pid: number;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Forks bench/lib/child.ts with tsx and waits for it to listen. */
export function startChild(start: ChildStart, timeoutMs = 60_000): Promise<Child> {
  const proc: ChildProcess = fork(CHILD, [JSON.stringify(start)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${start.role} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      for (const p of pending.values()) p.reject(new Error(`${start.role} exited (${code})`));
      pending.clear();
      reject(new Error(`${start.role} exited before it was ready (${code})`));
    });
    proc.on('message', (raw: unknown) => {
      const m = raw as { id?: number; ok?: boolean; result?: unknown; error?: string; ready?: boolean; url?: string };
      if (m.id !== undefined) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.ok) p?.resolve(m.result);
        else p?.reject(new Error(`${start.role}: ${m.error}`));
        return;
      }
      if (m.ready === false) return reject(new Error(`${start.role} failed: ${m.error}`));
      if (m.ready) {
        clearTimeout(timer);
        resolve({
          url: m.url!,
          pid: proc.pid!,
          call<T>(cmd: string, args?: unknown): Promise<T> {
            const id = ++seq;
            return new Promise<T>((res, rej) => {
              pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
              proc.send({ id, cmd, args });
            });
          },
          async stop() {
            const exited = new Promise<void>((r) => proc.once('exit', () => r()));
            const id = ++seq;
            pending.set(id, { resolve: () => {}, reject: () => {} });
            proc.send({ id, cmd: 'stop' });
            const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
            await exited;
            clearTimeout(t);
          },
        });
      }
    });
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "(comm) ": state is field 0, utime 11, stime 12 (clock ticks, 100 Hz).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The direct children of a process (Linux), e.g. a clustered service's workers. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds of a process and its children (a clustered service: primary + workers). A worker
 * that exits mid-run takes its seconds with it; none do in a benchmark.
 */
export function processTreeCpuSeconds(pid: number): number {
  return processCpuSeconds(pid) + childPids(pid).reduce((sum, c) => sum + processCpuSeconds(c), 0);
}

/** CPU seconds used so far by each postgres process (server and backends), by pid. */
export function postgresCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(d, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU seconds postgres used between two snapshots (backends born in between count whole). */
export function postgresCpuDelta(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return (total - idle) / 100;
}

/** Resident and peak resident memory of a process, in MB. */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}
