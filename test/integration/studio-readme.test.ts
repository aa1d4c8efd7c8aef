/**
 * The README's studio path, exactly as written: its three shell lines are read from README.md
 * (so a README that drifts from what works fails here) and run, in order, in a temporary folder
 * that holds the checkout as `noon/` (as a `git clone` names it). The first scaffolds the project
 * (noon packed into its vendor/) and installs it, the second runs the cluster with the project's
 * service until Ctrl-C (SIGINT to its process group, as a terminal sends it), the third calls the
 * service through BrokerList and the broker and prints its push. Each step's time is printed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TestProcess } from '../support/process';
import { cleanEnv, tempDir } from '../support/cli-proc';
import { freePort } from '../support/data-redis-servers';
import { until } from '../support/wait';

const SCAFFOLD_DEADLINE_MS = 300_000;
const UP_DEADLINE_MS = 120_000;
const STOP_DEADLINE_MS = 20_000;

/** The shell lines of the README's studio block (the `sh` block after "A game of your own on noon"), comments dropped. */
function readmeStudioLines(readme: string): string[] {
  const at = readme.indexOf('A game of your own on noon');
  assert.ok(at >= 0, 'README.md has the studio path ("A game of your own on noon")');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block?.[1], 'a ```sh block follows it');
  return block[1]
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

const lines = readmeStudioLines(readFileSync(join(ROOT, 'README.md'), 'utf8'));
const work = tempDir('noon-readme-');
const timings: Record<string, number> = {};
let projectDir = '';
let up: TestProcess | undefined;
let brokerlistPort = 0;

/** A shell as a studio developer has one: none of npm's or this test runner's variables, no NOON_*. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  for (const k of Object.keys(env))
    if (k === 'NODE_TEST_CONTEXT' || k === 'INIT_CWD' || k.startsWith('npm_')) delete env[k];
  return env;
}

/** Runs one README line with sh in cwd, to completion; its stdout. */
function shell(line: string, cwd: string, env: NodeJS.ProcessEnv, deadlineMs: number): string {
  try {
    return execFileSync('sh', ['-ec', line], { cwd, env, encoding: 'utf8', timeout: deadlineMs, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`README line failed: ${line}\n${String(err)}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

before(
  async () => {
    assert.equal(lines.length, 3, `the studio path is three commands: ${JSON.stringify(lines)}`);
    symlinkSync(ROOT, join(work.dir, 'noon'));
    brokerlistPort = await freePort();

    let t = Date.now();
    // The first line ends inside the project (`cd my-game`): the shell says where.
    const out = shell(`${lines[0] as string}\npwd`, work.dir, shellEnv(), SCAFFOLD_DEADLINE_MS);
    timings['init + npm install'] = Date.now() - t;
    projectDir = out.trim().split('\n').pop() as string;
    assert.ok(existsSync(join(projectDir, 'noon.config.json')), `the project is in ${projectDir}`);

    t = Date.now();
    // The cluster on spare ports (other suites may hold the defaults); the third line reads the
    // BrokerList's port from the same variable, as it would in the same shell.
    const env = shellEnv({
      NOON_BROKERLIST_PORT: String(brokerlistPort),
      NOON_YELLOW_PORT: '0',
      NOON_BROKER_PORT: '0',
      NOON_BROKER_WS_PORT: '0',
      NOON_METRICS_PORT: '0',
      NOON_LOG_LEVEL: 'warn',
    });
    up = new TestProcess([], env, lines[1], {
      wrap: ['sh', '-c', lines[1] as string],
      cwd: projectDir,
      detached: true,
    });
    const ready = await up.waitFor('ready line', () => up?.jsonLine({ ready: 'up' }), UP_DEADLINE_MS);
    timings[lines[1] as string] = Date.now() - t;
    assert.equal(ready.brokerlist, `http://127.0.0.1:${brokerlistPort}`);
  },
  { timeout: SCAFFOLD_DEADLINE_MS + UP_DEADLINE_MS + 60_000 },
);

after(async () => {
  if (up && groupAlive(up.pid)) {
    process.kill(-up.pid, 'SIGINT');
    await until('the cluster stopped on Ctrl-C', () => !groupAlive((up as TestProcess).pid), STOP_DEADLINE_MS).catch(
      (err: unknown) => {
        process.kill(-(up as TestProcess).pid, 'SIGKILL');
        throw err;
      },
    );
  }
  work.remove();
  process.stderr.write(`README studio path timings (ms): ${JSON.stringify(timings)}\n`);
});

test('the first line wrote a project that depends on the packed checkout, and installed it', () => {
  const pkg = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.match(pkg.dependencies.noon ?? '', /^file:vendor\/noon-\d+\.\d+\.\d+\.tgz$/);
  assert.ok(existsSync(join(projectDir, (pkg.dependencies.noon as string).slice('file:'.length))));
  assert.ok(existsSync(join(projectDir, 'node_modules', 'noon', 'dist', 'cli', 'main.js')));
});

test("the third line calls the project's method on the running cluster and prints its push", () => {
  const t = Date.now();
  const out = shell(lines[2] as string, projectDir, shellEnv({ NOON_BROKERLIST_PORT: String(brokerlistPort) }), 60_000);
  timings[lines[2] as string] = Date.now() - t;
  assert.match(out, /reply: Hello, player-[0-9a-f]{6}! \(\+10 soft\)/);
  assert.match(out, /push: {2}Hello, player-[0-9a-f]{6}!/);
  assert.match(out, /wallet: 1010 soft/);
});

test('Ctrl-C stops the whole cluster the second line started', async () => {
  const pgid = (up as TestProcess).pid;
  process.kill(-pgid, 'SIGINT');
  await until('every process of the cluster exited', () => !groupAlive(pgid), STOP_DEADLINE_MS);
});
