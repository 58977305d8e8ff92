import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

/**
 * README "Deploying" names only what exists: the files under deploy/ it copies, the npm scripts
 * it runs, the placeholder its sed replaces, the Node.js version CI runs. Runs once.
 */

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('\n## Deploying\n'), readme.indexOf('\n## Operating\n'));
const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;

describe.runIf(process.env.LAIFANG_TEST_DB !== 'pg')('README "Deploying"', () => {
  it('comes after "Configuration" and before "Operating"', () => {
    expect(readme.indexOf('\n## Configuration\n')).toBeLessThan(readme.indexOf('\n## Deploying\n'));
    expect(section.length).toBeGreaterThan(1000);
  });

  it('copies and links only files that exist', () => {
    const paths = [...new Set(section.match(/(?<![\w/])(deploy\/[\w./-]+[\w-]|scripts\/[\w.-]+|\.nvmrc|docs\/adr\/[\w.-]+)/g) ?? [])];
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('runs only npm scripts that exist', () => {
    const used = [...new Set([...section.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!))];
    expect(used.sort()).toEqual(['backup', 'build:server', 'build:web', 'migrate', 'restore']);
    expect(used.filter((s) => !scripts[s])).toEqual([]);
  });

  it('replaces the placeholder the nginx site uses, and the steps are numbered 1 to 10', () => {
    const site = readFileSync(join(ROOT, 'deploy/nginx/laifang.conf'), 'utf8');
    const placeholder = /sed -i 's\/([\w.]+)\/[\w.]+\/g' \/etc\/nginx\/sites-available\/laifang/.exec(section)?.[1];
    expect(placeholder?.replaceAll('\\', '')).toBe('laifang.example.com');
    expect(site).toContain('server_name laifang.example.com;');
    const steps = [...section.matchAll(/^(\d+)\. \*\*/gm)].map((m) => Number(m[1]));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('gives the TRUST_PROXY of the example configuration, the proxy that nginx is', () => {
    const example = /^TRUST_PROXY=(.*)$/m.exec(readFileSync(join(ROOT, 'deploy/laifang.env.example'), 'utf8'))?.[1];
    expect(example).toBe('127.0.0.1');
    expect(section).toContain(`\`TRUST_PROXY=${example}\``);
    expect(section).not.toMatch(/TRUST_PROXY=true`/);
  });

  it('pins in .nvmrc the Node.js major version the tests run on, and says it', () => {
    const pinned = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim();
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(process.versions.node.split('.')[0]).toBe(pinned.split('.')[0]);
    expect(section).toContain(`\`.nvmrc\` pins ${pinned}`);
  });
});
