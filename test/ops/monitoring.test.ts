import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startHarness, type Harness } from '../helpers/harness.js';
import { familiesOf } from './prom-text.js';

// The dashboard and the alert rules in deploy/monitoring name only metrics the service exposes.
const dir = new URL('../../deploy/monitoring/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(read('grafana-dashboard.json')) as { uid: string; panels: Panel[]; templating: { list: Array<{ query: unknown }> } };
const rules = (parse(read('laifang-alerts.yml')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);

/** Metric names in a PromQL expression: what is not a function, keyword, label or duration. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  const words = withoutStrings.match(/[a-zA-Z_:][\w:]*(?=\s*(?:\{|\[|\)|$|\s|[<>=!/*+-]))/g) ?? [];
  const notMetrics = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'le', 'instance', 'channel']);
  return words.filter((w) => (!notMetrics.has(w) && !/^\d/.test(w) && /_/.test(w)) || w === 'up');
}

let h: Harness;
let families: Set<string>;
let histograms: Set<string>;

beforeAll(async () => {
  h = await startHarness();
  const res = await h.request('GET', '/metrics');
  expect(res.status).toBe(200);
  const text = String(res.body);
  families = familiesOf(text);
  histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]!));
});
afterAll(async () => {
  await h?.close();
});

/** A name a query may use: a family of the scrape, a histogram's series, or Prometheus's own `up`. */
function exposed(name: string): boolean {
  if (name === 'up' || families.has(name)) return true;
  const m = /^(.*)_(bucket|count|sum)$/.exec(name);
  return m !== null && histograms.has(m[1]!);
}

describe('deploy/monitoring', () => {
  it('the dashboard is JSON whose every query names metrics a real scrape has', () => {
    expect(dashboard.uid).toBe('laifang');
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(12);
    const named = exprs.flatMap(({ panel, expr }) => metricNames(expr).map((name) => ({ panel, name })));
    expect(named.filter((n) => !exposed(n.name))).toEqual([]);
    // Each series the service exposes for operations has a panel.
    const used = new Set(named.map((n) => n.name.replace(/_(bucket|count|sum)$/, '')));
    for (const f of [
      'laifang_http_request_duration_seconds',
      'laifang_outbox_depth',
      'laifang_outbox_oldest_unsent_age_seconds',
      'laifang_notification_sends_total',
      'laifang_upstream_request_duration_seconds',
      'laifang_upstream_errors_total',
      'laifang_db_pool_connections',
      'laifang_ready',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(used.has(f), f).toBe(true);
    }
  });

  it('the alert rules cover readiness, the outbox, 5xx, Koala and the event loop, over metrics a real scrape has', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      ['LaifangCloudErrors', 'LaifangDown', 'LaifangEventLoopDelay', 'LaifangHigh5xxRate', 'LaifangKoalaErrors', 'LaifangOutboxStuck'].sort(),
    );
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+m$/);
      expect(['page', 'warn'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(
        metricNames(r.expr).filter((n) => !exposed(n)),
        r.alert,
      ).toEqual([]);
      expect(metricNames(r.expr).length, r.alert).toBeGreaterThan(0);
    }
  });

  it('a name the service does not expose is caught', () => {
    expect(metricNames('rate(laifang_no_such_metric_total{job="laifang"}[5m]) > 0').filter((n) => !exposed(n))).toEqual(['laifang_no_such_metric_total']);
  });
});
