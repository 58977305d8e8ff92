/**
 * One piece of the embedded start, alone (bench/lib/coldstart.ts runs it):
 *   none            node + tsx and nothing else
 *   modules         + every module src/main.ts loads
 *   pglite://DIR    + src/db/client.ts opening (and migrating) that PGlite directory
 * Prints {atMs: time since the process started, rssMb, peakMb}.
 */
import { readFileSync } from 'node:fs';

const what = process.argv[2] ?? 'none';
if (what === 'modules') {
  await import('../../src/runtime.js');
  await import('../../src/simulators.js');
  await import('../../src/boot-server.js');
} else if (what.startsWith('pglite://')) {
  const { openDatabase } = await import('../../src/db/client.js');
  const db = await openDatabase(what);
  await db.migrate();
  await db.ping();
}
const atMs = performance.now();
const status = readFileSync('/proc/self/status', 'utf8');
const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
process.stdout.write(JSON.stringify({ atMs, rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) }));
process.exit(0);
