import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, randomSecret } from '../../src/config.js';
import { program, ROOT } from './helpers.js';

/**
 * deploy/systemd: the units pass `systemd-analyze verify` (systemd is not PID 1 here; verify
 * reads the files), keep their hardening (`systemd-analyze security --offline`), run what
 * package.json runs, and agree with deploy/laifang.env.example and deploy/nginx/laifang.conf.
 * Nothing here touches a database: it runs once (the PGlite project).
 */

const analyze = program('systemd-analyze');
const runs = process.env.LAIFANG_TEST_DB !== 'pg';
const UNITS = ['laifang.service', 'laifang-backup.service', 'laifang-backup.timer'];
const unitPath = (name: string) => join(ROOT, 'deploy/systemd', name);

/** `Key=value` lines of a unit (or an environment file), later ones added to earlier ones. */
function settings(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}
const one = (s: Map<string, string[]>, key: string) => s.get(key)?.at(-1);
const npmScripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;

describe.runIf(runs && analyze.state === 'missing-fail')('systemd units', () => {
  it('needs systemd-analyze in CI', () => {
    expect(analyze.state, 'CI must install systemd (scripts/ci-deploy-prereqs.sh)').toBe('present');
  });
});

describe.runIf(runs && analyze.state === 'present')('systemd units (systemd-analyze)', () => {
  it('pass systemd-analyze verify without a word', () => {
    const res = spawnSync(analyze.path!, ['verify', ...UNITS.map(unitPath)], { encoding: 'utf8' });
    expect({ status: res.status, output: `${res.stdout}${res.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });

  it.each(['laifang.service', 'laifang-backup.service'])('%s is hardened: exposure at most 2.5 ("OK")', (unit) => {
    const res = spawnSync(analyze.path!, ['security', '--offline=yes', '--no-pager', unitPath(unit)], { encoding: 'utf8' });
    const score = /Overall exposure level for [\w.-]+: ([\d.]+)/.exec(`${res.stdout}${res.stderr}`)?.[1];
    expect(score, res.stdout + res.stderr).toBeDefined();
    expect(Number(score)).toBeLessThanOrEqual(2.5);
  });
});

describe.runIf(runs)('systemd units and the files they name', () => {
  const service = settings(unitPath('laifang.service'));
  const backup = settings(unitPath('laifang-backup.service'));

  it('run the service as its own user, restarted on failure, hardened, configured by the EnvironmentFile', () => {
    for (const unit of [service, backup]) {
      expect(one(unit, 'User')).toBe('laifang');
      expect(one(unit, 'NoNewPrivileges')).toBe('yes');
      expect(one(unit, 'ProtectSystem')).toBe('strict');
      expect(one(unit, 'PrivateTmp')).toBe('yes');
      expect(one(unit, 'EnvironmentFile')).toBe('/etc/laifang/laifang.env');
      expect(one(unit, 'WorkingDirectory')).toBe('/opt/laifang');
      // V8 and PGlite's WebAssembly compile code at run time.
      expect(unit.has('MemoryDenyWriteExecute')).toBe(false);
    }
    expect(one(service, 'Restart')).toBe('on-failure');
    expect(one(service, 'StateDirectory')).toBe('laifang');
    expect(one(backup, 'Type')).toBe('oneshot');
  });

  it('run what package.json runs (npm start without its build step; npm run backup)', () => {
    const asNpmRuns = (execStart: string | undefined) => (execStart ?? '').replace(/^\/usr\/bin\/node /, 'node ').replaceAll('/opt/laifang/', '');
    expect(asNpmRuns(one(service, 'ExecStart'))).toBe(npmScripts.start);
    expect(asNpmRuns(one(backup, 'ExecStart')).startsWith(`${npmScripts.backup} `)).toBe(true);
  });

  it('agree with deploy/laifang.env.example and deploy/nginx/laifang.conf', () => {
    const example = settings(join(ROOT, 'deploy/laifang.env.example'));
    const env: Record<string, string> = { NODE_ENV: 'production' };
    for (const [key, values] of example) {
      const value = values.at(-1)!;
      // The blanks are the operator's to fill: anything valid will do here.
      env[key] = value !== '' ? value : key.endsWith('_URL') ? 'https://example.test' : key === 'SESSION_SECRET' ? randomSecret() : 'filled-in-value';
    }
    // Every variable production requires is in the example (a missing one throws, naming it).
    const config = loadConfig(env);
    // nginx on this machine is the one proxy believed; /docs is not served.
    expect(config).toMatchObject({ env: 'production', trustProxy: ['127.0.0.1'], apiDocs: false, host: '127.0.0.1', simulated: false });
    expect(config.warnings).toEqual([]);
    // The embedded database and the files in the state directory, the only place the service may write.
    expect(config.databaseUrl).toBe(`pglite:///var/lib/${one(service, 'StateDirectory')}/db`);
    expect(config.storage).toMatchObject({ driver: 'local', dir: `/var/lib/${one(service, 'StateDirectory')}/files` });
    const site = readFileSync(join(ROOT, 'deploy/nginx/laifang.conf'), 'utf8')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    expect(site).toContain(`server ${config.host}:${config.port};`);
    expect(site).toContain(`server_name ${new URL(config.publicUrl).hostname};`);
    // nginx appends the address it saw; the service takes the right-most one not its proxy's.
    expect(site).toContain('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
    expect(site).toContain(`server ${config.trustProxy[0]}:${config.port};`);
    // The backup writes where its unit may write.
    expect(one(backup, 'ExecStart')).toContain(`--out ${one(backup, 'ReadWritePaths')} `);
  });
});
