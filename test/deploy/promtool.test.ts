import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { program, ROOT } from './helpers.js';

// Prometheus's own checker on deploy/monitoring: the rules parse and their alert tests pass, and
// the scrape job is a valid configuration (with its /etc paths pointed at a scratch folder).
const promtool = program('promtool');
const dir = join(ROOT, 'deploy/monitoring');
const run = (args: string[], cwd = dir) => execFileSync(promtool.path!, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.runIf(promtool.state === 'missing-fail')('promtool', () => {
  it('needs promtool in CI', () => {
    expect(promtool.state, 'CI must install prometheus (scripts/ci-deploy-prereqs.sh)').toBe('present');
  });
});

describe.runIf(promtool.state === 'present')('deploy/monitoring through promtool', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'laifang-prom-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('check rules: the alert rules are valid', () => {
    expect(run(['check', 'rules', 'laifang-alerts.yml'])).toMatch(/SUCCESS: 6 rules found/);
  });

  it('test rules: each alert fires on its series after its `for`, and not before', () => {
    expect(run(['test', 'rules', 'laifang-alerts.test.yml'])).toMatch(/SUCCESS/);
  });

  it('check config: the scrape job, with its token file and rule file in place', () => {
    writeFileSync(join(scratch, 'laifang-metrics.token'), 'x'.repeat(64));
    writeFileSync(join(scratch, 'laifang-alerts.yml'), readFileSync(join(dir, 'laifang-alerts.yml')));
    const config = readFileSync(join(dir, 'prometheus-scrape.yml'), 'utf8').replaceAll('/etc/prometheus/', `${scratch}/`);
    expect(config).not.toBe(readFileSync(join(dir, 'prometheus-scrape.yml'), 'utf8'));
    writeFileSync(join(scratch, 'prometheus.yml'), config);
    expect(run(['check', 'config', join(scratch, 'prometheus.yml')])).toMatch(/SUCCESS/);
  });
});
