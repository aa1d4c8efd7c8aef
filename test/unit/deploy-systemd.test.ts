/**
 * The plain-host kit (deploy/systemd) stays in step with the code: the unit starts a real role
 * from the compiled CLI, gives SIGTERM and enough time for noon's own stop, and the example
 * environment files name only real options, each of which loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_SPEC } from '../../shared/config-spec';
import { loadConfig } from '../../shared/config';
import { STOP_DEADLINE_MS } from '../../cli/lifecycle';
import { ALLOCATOR_ENV } from '../../cli/allocator-env';

const DIR = join(__dirname, '..', '..', 'deploy', 'systemd');
const read = (name: string): string => readFileSync(join(DIR, name), 'utf8');

/** `key=value` lines of a unit or env file, comments and section headers left out. */
function assignments(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => {
      const eq = l.indexOf('=');
      assert.ok(eq > 0, `not key=value: ${l}`);
      return [l.slice(0, eq), l.slice(eq + 1)] as [string, string];
    });
}

test('the unit runs the compiled CLI for the role its instance names, as a plain user', () => {
  const unit = new Map(assignments(read('noon@.service')));
  assert.equal(unit.get('ExecStart'), '/usr/bin/node /opt/noon/dist/cli/main.js start %i');
  assert.equal(unit.get('User'), 'noon');
  assert.equal(unit.get('KillSignal'), 'SIGTERM');
  assert.equal(unit.get('Restart'), 'on-failure');
  // `systemctl reload` is how a renewed TLS certificate is picked up (SIGHUP)
  assert.equal(unit.get('ExecReload'), '/bin/kill -HUP $MAINPID');
  // glibc's thresholds, as the supervisor of `noon up --processes` sets them for its children
  assert.deepEqual(
    Object.fromEntries((unit.get('Environment') ?? '').split(' ').map((kv) => kv.split('=') as [string, string])),
    ALLOCATOR_ENV,
  );
});

test("the unit's stop timeout covers noon's own stop deadline with the example drain grace", () => {
  const unit = new Map(assignments(read('noon@.service')));
  const drainGrace = Number(new Map(assignments(read('broker.env'))).get('NOON_DRAIN_GRACE_MS'));
  const deadlineMs = Math.max(STOP_DEADLINE_MS, drainGrace + 5000);
  assert.ok(
    Number(unit.get('TimeoutStopSec')) * 1000 > deadlineMs,
    `${unit.get('TimeoutStopSec')} s vs ${deadlineMs} ms`,
  );
});

test('the example environment files name only real options, and they load', () => {
  const options = new Set(Object.values(CONFIG_SPEC).map((s) => s.env));
  const env: Record<string, string> = {};
  for (const file of ['cluster.env', 'broker.env'])
    for (const [k, v] of assignments(read(file))) {
      assert.ok(options.has(k), `${file}: ${k} is not a noon option (shared/config-spec.ts)`);
      env[k] = v;
    }
  const cfg = loadConfig({}, env);
  assert.equal(cfg.bindHost, '0.0.0.0');
  assert.equal(cfg.host, '10.0.0.31');
  assert.equal(cfg.yellow.length, 2);
});
