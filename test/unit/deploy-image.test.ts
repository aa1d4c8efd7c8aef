/**
 * The image definition (Dockerfile) and the compose cluster, linted: the runtime stage runs the
 * compiled CLI (dist/, no tsx) as a numeric non-root user, installs production dependencies
 * only, copies only the run-time files, and takes the role as its command; compose runs every
 * role as `start <role>` with real noon options only.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_SPEC } from '../../shared/config-spec';
import { loadConfig } from '../../shared/config';
import { BUILTIN_ROLES } from '../../services';
import { ALLOCATOR_ENV } from '../../cli/allocator-env';
import { imageConfig, parseDockerfile } from '../support/dockerfile';
import { ROOT } from '../support/process';

const stages = parseDockerfile(join(ROOT, 'Dockerfile'));
const runtime = stages[stages.length - 1]!;
const image = imageConfig(stages);
const ROLES = ['yellow', 'brokerlist', 'broker', 'worker', ...BUILTIN_ROLES];
const NOON_ENV = new Set(Object.values(CONFIG_SPEC).map((s) => s.env));

test('two stages: the build compiles, the runtime stage starts from a slim Node image', () => {
  assert.ok(stages.length >= 2, 'a multi-stage build');
  const build = stages.find((s) => s.name === 'build');
  assert.ok(build, 'a stage named build');
  assert.ok(
    build.instructions.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)),
    'the build stage installs with npm ci',
  );
  assert.ok(
    build.instructions.some((i) => i.op === 'RUN' && /scripts\/build\.js|npm run build/.test(i.args)),
    'the build stage compiles',
  );
  assert.match(runtime.from, /^node:\d+(\.\d+)*-[a-z]+-slim$/, 'a slim Node base image for the runtime');
  const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } })
    .engines;
  const major = Number(/^node:(\d+)/.exec(runtime.from)?.[1]);
  assert.ok(major >= Number(/\d+/.exec(engines.node)?.[0]), `node ${major} satisfies engines ${engines.node}`);
});

test('the runtime stage installs production dependencies only and copies no sources', () => {
  const runs = runtime.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const installs = runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r));
  assert.ok(installs.length > 0, 'it installs the dependencies');
  for (const r of installs) {
    assert.match(r, /\bnpm ci\b/, `${r}: npm ci (the lock file), not npm install`);
    assert.match(r, /--omit=dev\b/, `${r}: without dev dependencies`);
  }
  const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/));
  const sources = copies.map((c) => c.filter((a) => !a.startsWith('--')).slice(0, -1)).flat();
  assert.deepEqual(
    sources.map((s) => s.replace(/^\/src\//, '')).sort(),
    ['bin', 'dist', 'package-lock.json', 'package.json', 'shared/protocol/*.thrift'].sort(),
    'only the compiled output, the bin, the IDL and the package manifests',
  );
  for (const c of copies.filter((x) => x.some((a) => a.endsWith('dist') || a.endsWith('bin'))))
    assert.ok(c.includes('--from=build'), `${c.join(' ')}: from the build stage`);
});

test('a numeric non-root user runs the compiled CLI, and the role is the command', () => {
  assert.ok(image.user, 'a USER');
  const [uid, gid] = image.user.split(':');
  assert.match(uid!, /^\d+$/, 'a numeric uid (runAsNonRoot can check it)');
  assert.notEqual(Number(uid), 0, 'not root');
  if (gid !== undefined) assert.match(gid, /^\d+$/);
  assert.equal(image.entrypoint[0], 'node', 'plain node');
  assert.equal(image.entrypoint.length, 2);
  const entry = image.entrypoint[1]!;
  assert.equal(entry, `${image.workdir}/dist/cli/main.js`, 'the compiled CLI in dist/');
  assert.ok(existsSync(join(ROOT, 'cli', 'main.ts')), 'which the build compiles from cli/main.ts');
  assert.ok(!image.entrypoint.some((a) => /tsx/.test(a)), 'no tsx');
  assert.equal(image.cmd[0], 'start');
  assert.ok(ROLES.includes(image.cmd[1]!), `the default command starts a role: ${image.cmd.join(' ')}`);
  for (const k of Object.keys(image.env).filter((e) => e.startsWith('NOON_')))
    assert.ok(NOON_ENV.has(k), `ENV ${k} is a noon option`);
  assert.equal(image.env.NODE_ENV, 'production');
  for (const [k, v] of Object.entries(ALLOCATOR_ENV)) assert.equal(image.env[k], v, `ENV ${k} (cli/allocator-env.ts)`);
});

test('.dockerignore keeps local state, secrets and build output out of the build context', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const p of ['node_modules', 'dist', '.noon', '.git', '**/*.key', 'shared/protocol/gen'])
    assert.ok(ignored.includes(p), `${p} ignored`);
});

test('compose runs every role from the image with real noon options', () => {
  const compose = parse(readFileSync(join(ROOT, 'deploy', 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      { image?: string; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> }
    >;
  };
  const services = compose.services;
  const roles: string[] = [];
  for (const [name, svc] of Object.entries(services)) {
    for (const dep of Object.keys(svc.depends_on ?? {})) assert.ok(services[dep], `${name} depends on ${dep}`);
    if (svc.image !== 'noon:local') continue;
    const env = svc.environment ?? {};
    for (const k of Object.keys(env)) assert.ok(NOON_ENV.has(k), `${name}: ${k} is not a noon option`);
    assert.doesNotThrow(() => loadConfig({}, env), `${name}: its options parse`);
    const cmd = svc.command ?? image.cmd;
    if (cmd[0] === 'keys') continue;
    assert.equal(cmd[0], 'start', `${name}: ${cmd.join(' ')}`);
    assert.ok(ROLES.includes(cmd[1]!), `${name} runs a role`);
    roles.push(cmd[1]!);
  }
  assert.deepEqual([...new Set(roles)].sort(), [...ROLES].sort(), 'every role');
  for (const db of ['postgres', 'redis']) assert.ok(services[db], db);
});
