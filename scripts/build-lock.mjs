import { mkdirSync, rmSync, statSync } from 'node:fs';

/**
 * Test files in parallel workers (and a developer's `npm start`) may build at the same time: one
 * builds, the others wait here and then find the output fresh. The lock is a directory (mkdir is
 * atomic), held until this process exits; one left by a killed build is older than any real
 * build takes and is taken over.
 */
export async function holdBuildLock(lock, maxMs = 180_000) {
  const waitUntil = Date.now() + maxMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > maxMs) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > waitUntil) throw new Error(`${lock} is held by another build for too long; remove it if no build is running`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  process.on('exit', () => rmSync(lock, { recursive: true, force: true }));
}
