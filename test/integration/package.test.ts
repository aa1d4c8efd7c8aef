// noon as a studio installs it: `npm pack` (its prepack runs `npm run build`), the tarball
// installed into a fresh project outside the repository, then used with plain node: the exported
// entries load, `noon --help` lists the commands, and `noon start yellow` runs and stops. A guard
// preloaded into every node process fails any attempt to load tsx: the installed package runs
// compiled JavaScript only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, TestProcess, killAllProcesses } from '../support/process';
import { cleanEnv, tempDir } from '../support/cli-proc';

const PACK_DEADLINE_MS = 120_000;
const INSTALL_DEADLINE_MS = 180_000;

const work = tempDir('noon-package-');
const packDir = join(work.dir, 'pack');
const studio = join(work.dir, 'studio');
const guard = join(work.dir, 'no-tsx.js');
let tarball: string;
let listing: string[];

/** The environment without NOON_* and without what `npm test` tells its scripts about this repository. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = cleanEnv(extra);
  for (const k of Object.keys(e))
    if (/^npm_(package_|lifecycle_|command$|config_local_prefix$)/i.test(k) || k === 'INIT_CWD') delete e[k];
  return e;
}

/** The same, with the tsx guard preloaded into every node process. */
const guarded = (extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  env({ ...extra, NODE_OPTIONS: `--require ${guard}` });

/** Runs a command to completion within deadlineMs (then SIGKILL); rejects on a non-zero exit with its output's tail. */
async function run(
  file: string,
  args: string[],
  cwd: string,
  deadlineMs: number,
  e = env(),
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(file, args, {
      cwd,
      env: e,
      timeout: deadlineMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    const tail = (s: string) => s.split('\n').slice(-40).join('\n');
    throw new Error(
      `${file} ${args.join(' ')} (in ${cwd}) failed within ${deadlineMs} ms: ${String(err)}\n${tail(stdout)}\n${tail(stderr)}`,
    );
  }
}

interface Entry {
  subpath: string;
  file: string; // ./dist/….js
  types?: string;
}

/** The package's exported JavaScript entries (package.json "exports"). */
function jsEntries(): Entry[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { types?: string; default: string }>;
  };
  return Object.entries(pkg.exports)
    .map(([subpath, t]) =>
      typeof t === 'string' ? { subpath, file: t } : { subpath, file: t.default, types: t.types },
    )
    .filter((x) => x.file.endsWith('.js'));
}

/** An entry exists when its TypeScript source does (dist/x/y.js from x/y.ts) or the build made it. */
const exists = (x: Entry): boolean =>
  existsSync(join(ROOT, x.file.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))) || existsSync(join(ROOT, x.file));

before(
  async () => {
    mkdirSync(packDir);
    mkdirSync(studio);
    writeFileSync(
      guard,
      "const M = require('node:module');\nconst resolve = M._resolveFilename;\n" +
        'M._resolveFilename = function (request, ...rest) {\n' +
        "  if (/^tsx(\\/|$)/.test(request)) throw new Error('the installed noon loaded tsx: ' + request);\n" +
        '  return resolve.call(this, request, ...rest);\n};\n',
    );

    let t = Date.now();
    await run('npm', ['pack', '--pack-destination', packDir], ROOT, PACK_DEADLINE_MS);
    const packMs = Date.now() - t;
    const tgz = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
    assert.equal(tgz.length, 1, `one tarball in ${packDir}: ${tgz.join(', ')}`);
    tarball = join(packDir, tgz[0] as string);
    listing = (await run('tar', ['-tzf', tarball], work.dir, 30_000)).stdout.split('\n').filter(Boolean);

    writeFileSync(join(studio, 'package.json'), JSON.stringify({ name: 'studio', version: '1.0.0', private: true }));
    t = Date.now();
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], studio, INSTALL_DEADLINE_MS);
    const installMs = Date.now() - t;
    console.log(
      `npm pack (with the build): ${(packMs / 1000).toFixed(1)} s; npm install: ${(installMs / 1000).toFixed(1)} s`,
    );
  },
  { timeout: PACK_DEADLINE_MS + INSTALL_DEADLINE_MS + 60_000 },
);

after(() => {
  killAllProcesses();
  work.remove();
});

test('the tarball holds the compiled JS and types of every exported entry, the bin and the IDL, and no sources or tests', () => {
  const files = new Set(listing.map((f) => f.replace(/^package\//, '')));
  for (const x of jsEntries().filter(exists)) {
    assert.ok(files.has(x.file.slice(2)), `${x.subpath}: ${x.file} in the tarball`);
    if (x.types) assert.ok(files.has(x.types.slice(2)), `${x.subpath}: ${x.types} in the tarball`);
  }
  for (const f of ['bin/noon.js', 'package.json', 'README.md', 'shared/protocol/noon.thrift', 'dist/cli/main.js'])
    assert.ok(files.has(f), `${f} in the tarball`);
  const stray = [...files].filter(
    (f) =>
      /^(test|bench|scripts)\//.test(f) ||
      /\.test\.|(^|\/)test\//.test(f) ||
      (f.endsWith('.ts') && !f.endsWith('.d.ts')),
  );
  assert.deepEqual(stray, [], 'no tests, benchmarks, scripts or TypeScript sources');
});

test('with plain node, the exported entries load: noon/client has NoonClient, noon/protocol the generated services', async () => {
  const entries = jsEntries()
    .filter(exists)
    .filter((x) => x.subpath !== './client/browser')
    .map((x) => `noon${x.subpath.slice(1)}`);
  const script = `
    const out = {};
    for (const e of ${JSON.stringify(entries)}) out[e] = Object.keys(require(e));
    const { NoonClient } = require('noon/client');
    const { Player, Sso } = require('noon/protocol');
    out.kinds = [typeof NoonClient, typeof Player.Client, typeof Sso.Client, typeof Sso.Processor];
    out.idl = require.resolve('noon/idl/noon.thrift');
    out.tsx = Object.keys(require.cache).filter((k) => /[\\\\/]tsx[\\\\/]/.test(k));
    console.log(JSON.stringify(out));`;
  const { stdout } = await run(process.execPath, ['-e', script], studio, 30_000, guarded());
  const out = JSON.parse(stdout) as Record<string, string[]> & { idl: string };
  assert.deepEqual(out.kinds, ['function', 'function', 'function', 'function']);
  for (const e of entries) assert.ok((out[e] ?? []).length > 0, `${e} exports something`);
  assert.equal(out.idl, join(studio, 'node_modules', 'noon', 'shared', 'protocol', 'noon.thrift'));
  assert.deepEqual(out.tsx, []);
});

test('noon --help from the project exits 0 and lists start and up', async () => {
  const { stdout } = await run(
    process.execPath,
    [join('node_modules', '.bin', 'noon'), '--help'],
    studio,
    30_000,
    guarded(),
  );
  assert.match(stdout, /noon start <role>/);
  assert.match(stdout, /noon up\b/);
});

test('noon start yellow from the installed package prints its ready line and stops on SIGTERM with exit 0', async () => {
  const yellow = new TestProcess(
    [join(studio, 'node_modules', '.bin', 'noon'), 'start', 'yellow'],
    guarded({ NOON_YELLOW_PORT: '0', NOON_METRICS_PORT: '0', NOON_DATA_DIR: join(studio, '.noon') }),
    'installed noon start yellow',
  );
  const ready = await yellow.ready(30_000, 'yellow');
  assert.equal(ready.pid, yellow.pid);
  assert.match(String(ready.router), /^tcp:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(await yellow.stop('SIGTERM'), { code: 0, signal: null });
});
