import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// semver comes with npm's own tree (eslint, vite…); the test only reads the lock file.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};
const nvmrc = readFileSync(new URL('.nvmrc', root), 'utf8').trim();
const readme = readFileSync(new URL('README.md', root), 'utf8');

/** Every locked package whose declared Node range leaves out `version`. */
function refusing(version: string): string[] {
  const out: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    if (path === '' || !range) continue;
    if (!semver.satisfies(version, range)) out.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants node ${range}`);
  }
  return out;
}

describe('Node versions', () => {
  it('.nvmrc is a version the engines range accepts, and the README names it', () => {
    expect(semver.satisfies(nvmrc, pkg.engines.node)).toBe(true);
    expect(readme).toContain(`\`.nvmrc\` pins ${nvmrc}`);
    expect(readme).toContain(pkg.engines.node);
  });

  it('every locked dependency runs on the lowest Node the engines range allows, and on .nvmrc', () => {
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    expect(refusing(lowest)).toEqual([]);
    expect(refusing(nvmrc)).toEqual([]);
  });
});
