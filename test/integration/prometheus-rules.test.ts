// The shipped Prometheus files checked by Debian's promtool: the rules load (and a broken rule is
// refused, naming it), their unit tests pass (and fail when an alert's threshold is changed), the
// scrape config is valid; every alert has a summary; the ServiceMonitor, the adapter config and
// the Grafana dashboard say what the rest of the kit relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from '../support/process';
import { dashboardQueries, promtool } from '../support/prometheus';

const DIR = join(ROOT, 'deploy', 'prometheus');
const RULES = join(DIR, 'rules.yml');

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  annotations?: Record<string, string>;
}

const rules = (): Rule[] =>
  (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);

/** A temp copy of the rules and their tests, `edit` applied to the rules. */
function withEditedRules<T>(edit: (text: string) => string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'noon-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), edit(readFileSync(RULES, 'utf8')));
    copyFileSync(join(DIR, 'rules.test.yml'), join(dir, 'rules.test.yml'));
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('promtool check rules passes on the rules, and refuses a broken one naming it', () => {
  const ok = promtool(['check', 'rules', RULES]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /SUCCESS: \d+ rules found/);
  withEditedRules(
    (text) => text.replace('expr: up{job="noon"} == 0', 'expr: up{job="noon"} == (0'),
    (dir) => {
      const bad = promtool(['check', 'rules', join(dir, 'rules.yml')]);
      assert.notEqual(bad.code, 0, bad.out);
      assert.match(bad.out, /NoonInstanceDown|unclosed left parenthesis|parse error/, bad.out);
    },
  );
});

test('promtool test rules passes, and fails when an alert no longer fires as its test says', () => {
  const ok = promtool(['test', 'rules', join(DIR, 'rules.test.yml')]);
  assert.equal(ok.code, 0, ok.out);
  withEditedRules(
    (text) =>
      text.replace(
        'expr: role:noon_calls_failed:ratio_rate1m > 0.05',
        'expr: role:noon_calls_failed:ratio_rate1m > 0.5',
      ),
    (dir) => {
      const bad = promtool(['test', 'rules', join(dir, 'rules.test.yml')]);
      assert.notEqual(bad.code, 0, bad.out);
      assert.match(bad.out, /NoonHighErrorRatio/);
    },
  );
});

test('promtool check config passes on the scrape config (with the rules it names)', () => {
  const r = promtool(['check', 'config', join(DIR, 'prometheus.yml')]);
  assert.equal(r.code, 0, r.out);
});

test('every alert has a summary and a description; the asked-for alerts are there', () => {
  const alerts = rules().filter((r) => r.alert);
  for (const a of alerts) {
    assert.ok(a.annotations?.summary, `${a.alert} has a summary`);
    assert.ok(a.annotations?.description, `${a.alert} has a description`);
  }
  assert.deepEqual(
    alerts.map((a) => a.alert),
    [
      'NoonInstanceDown',
      'NoonRoleAbsent',
      'NoonHighErrorRatio',
      'NoonSlowMethod',
      'NoonDropping',
      'NoonQueueBacklog',
      'NoonEventLoopLag',
      'NoonYellowNotConverged',
      'NoonDataErrors',
    ],
  );
});

test("the ServiceMonitor scrapes every noon pod's `metrics` port as job noon", () => {
  interface Doc {
    kind: string;
    apiVersion: string;
    metadata: { labels: Record<string, string> };
    spec: {
      selector: Record<string, string> & { matchLabels?: Record<string, string> };
      ports?: Array<{ name: string; targetPort: string }>;
      endpoints?: Array<{ port: string }>;
      jobLabel?: string;
    };
  }
  const docs = parseAllDocuments(readFileSync(join(DIR, 'servicemonitor.yaml'), 'utf8')).map((d) => d.toJS() as Doc);
  const svc = docs.find((d) => d.kind === 'Service');
  const sm = docs.find((d) => d.kind === 'ServiceMonitor');
  assert.ok(svc && sm);
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(svc.spec.selector, { 'app.kubernetes.io/part-of': 'noon' });
  assert.equal(svc.spec.ports?.[0]?.targetPort, 'metrics');
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels ?? {}))
    assert.equal(svc.metadata.labels[k], v, `the ServiceMonitor selects the Service by ${k}`);
  assert.equal(sm.spec.endpoints?.[0]?.port, svc.spec.ports?.[0]?.name);
  assert.equal(svc.metadata.labels[sm.spec.jobLabel ?? ''], 'noon', 'job="noon", as the rules expect');
});

test('the adapter provides noon_broker_connections; the dashboard defines every variable it uses', () => {
  const adapter = parse(readFileSync(join(DIR, 'adapter.yaml'), 'utf8')) as {
    rules: Array<{ name: { as: string }; metricsQuery: string }>;
  };
  assert.deepEqual(
    adapter.rules.map((r) => r.name.as),
    ['noon_broker_connections'],
  );
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'noon.json'), 'utf8')) as Parameters<
    typeof dashboardQueries
  >[0] & { panels: Array<{ title: string; targets?: unknown[] }> };
  for (const p of dashboard.panels) assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
  assert.ok(dashboardQueries(dashboard, '1m').length >= dashboard.panels.length);
});
