import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimEndpoints } from './child.js';
import type { Child } from './proc.js';
import { childPids } from './proc.js';
import { benchServiceEnv } from './service-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * The service as deployed with WEB_CONCURRENCY=n: `src/main.ts` (a primary and n workers on one
 * port) on the benchmark database, using simulators that already run elsewhere, and the same
 * session secret as the in-process service (so the sessions minted there are valid here).
 * Its CPU is the primary's plus the workers' (bench/lib/load.ts sums a process tree).
 */
export async function startCluster(
  o: { databaseUrl: string; sims: SimEndpoints; sessionSecret: string; processes: number; extra?: Record<string, string> },
  timeoutMs = 120_000,
): Promise<Child> {
  const port = await freePort();
  const storageDir = mkdtempSync(join(tmpdir(), 'laifang-bench-cluster-'));
  const env = {
    PATH: process.env.PATH,
    ...benchServiceEnv({ ...o, storageDir, extra: { ...o.extra, PORT: String(port), HOST: '127.0.0.1', WEB_CONCURRENCY: String(o.processes) } }),
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  // Ready: every worker forked, and a run of fresh connections (spread over the workers) all 200.
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`clustered service exited (${proc.exitCode}) while starting`);
    if (childPids(proc.pid!).length === o.processes) {
      const answers = await Promise.all(
        Array.from({ length: 4 * o.processes }, () =>
          fetch(`${url}/readyz`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(2000) }).then(
            (r) => r.status,
            () => 0,
          ),
        ),
      );
      if (answers.every((s) => s === 200)) break;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`clustered service not ready within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: proc.pid!,
    async call<T>(cmd: string): Promise<T> {
      // No control channel into the workers: the event loop's busy share is not measured.
      if (cmd === 'elu') return { active: Number.NaN, idle: Number.NaN } as T;
      throw new Error(`the clustered service takes no command (${cmd})`);
    },
    async stop() {
      if (proc.exitCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
          proc.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          proc.kill('SIGTERM');
        });
      }
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
}
