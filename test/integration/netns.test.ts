/**
 * The multi-host harness itself (test/support/netns.ts): it removes what a crashed run of its
 * prefix left (namespaces, links, processes inside), hosts reach each other and the root
 * namespace, a partition cuts a host off and a heal restores it, and destroy() leaves nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:net';
import { TestNetwork, type NetHost } from '../support/netns';
import type { TestProcess } from '../support/process';
import { until } from '../support/wait';

const PREFIX = 'noonnt';
let net: TestNetwork | undefined;
const procs: TestProcess[] = [];

after(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  await net?.destroy();
});

function ours(): { namespaces: string[]; links: string[] } {
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith(`${PREFIX}-`));
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`${PREFIX}-`));
  return { namespaces, links };
}

/** A one-line TCP echo server inside `host` on port 9000; resolves once it listens. */
async function echoOn(host: NetHost): Promise<void> {
  const script = `require('net').createServer((s) => s.pipe(s)).listen(9000, '${host.address}', () => console.log('{"ready":"echo"}'))`;
  const p = net!.spawn(host, ['-e', script], process.env, 'echo');
  procs.push(p);
  await p.ready(20_000);
}

/** How long a probe connection may take before it counts as blocked (a partition drops packets silently). */
const CONNECT_DEADLINE_MS = 1500;

/** Whether `from` (a host, or the root namespace) can open a TCP connection to `to`:9000 within the deadline. */
function reaches(from: NetHost | 'root', to: NetHost): boolean {
  const script = `const s = require('net').connect(9000, '${to.address}', () => process.exit(0)); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), ${CONNECT_DEADLINE_MS})`;
  const node = [process.execPath, '-e', script];
  try {
    if (from === 'root') execFileSync(process.execPath, node.slice(1), { stdio: 'ignore', timeout: 15_000 });
    else execFileSync('ip', ['netns', 'exec', from.ns, ...node], { stdio: 'ignore', timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

test('leftovers of a crashed run are removed; hosts talk; a partition cuts one host off until healed; nothing is left', async () => {
  // What a crashed run leaves: a namespace with a process still inside, and a link.
  execFileSync('ip', ['netns', 'add', `${PREFIX}-h7`]);
  execFileSync('ip', ['link', 'add', `${PREFIX}-v7`, 'type', 'veth', 'peer', 'name', `${PREFIX}-p7`]);
  const stray = execFileSync(
    'sh',
    ['-c', `ip netns exec ${PREFIX}-h7 ${process.execPath} -e 'setInterval(() => {}, 1000)' >/dev/null 2>&1 & echo $!`],
    { encoding: 'utf8' },
  ).trim();
  assert.match(stray, /^\d+$/);
  await until('the stray process is inside the namespace', () =>
    execFileSync('ip', ['netns', 'pids', `${PREFIX}-h7`], { encoding: 'utf8' })
      .split('\n')
      .includes(stray),
  );

  net = await TestNetwork.create({ hosts: 3, prefix: PREFIX, subnet: '10.77.1' });
  const left = ours();
  assert.ok(!left.namespaces.some((n) => n.startsWith(`${PREFIX}-h7`)), 'the crashed run’s namespace is gone');
  assert.ok(!left.links.some((l) => l.includes(`${PREFIX}-v7`)), 'the crashed run’s link is gone');
  // ended: gone, or a zombie until init reaps it
  await until('the process left inside it ended', () => {
    try {
      return readFileSync(`/proc/${stray}/stat`, 'utf8').split(' ')[2] === 'Z';
    } catch {
      return true;
    }
  });
  assert.equal(left.namespaces.length, 3);

  const [a, b, c] = net.hosts as [NetHost, NetHost, NetHost];
  await echoOn(b);
  await echoOn(c);
  assert.ok(reaches(a, b), 'h1 reaches h2');
  assert.ok(reaches('root', b), 'the root namespace reaches h2 over the bridge');

  // The bridge address serves the root namespace's loopback-only servers through a forwarder.
  const loopback: Server = createServer((s) => s.end('hello'));
  await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', () => resolve()));
  const port = (loopback.address() as { port: number }).port;
  await net.forward(port, port);
  // asynchronously: the forwarder runs in this process
  const { stdout: fetched } = await promisify(execFile)(
    'ip',
    [
      'netns',
      'exec',
      c.ns,
      process.execPath,
      '-e',
      `require('net').connect(${port}, '${net.rootAddress}').on('data', (d) => { process.stdout.write(d); process.exit(0); })`,
    ],
    { encoding: 'utf8', timeout: 15_000 },
  );
  assert.equal(fetched, 'hello');

  await net.partition(b);
  assert.equal(reaches(a, b), false, 'a partitioned host is not reachable from another host');
  assert.equal(reaches('root', b), false, 'nor from the root namespace');
  assert.ok(reaches(a, c), 'the other hosts still reach each other');
  await net.heal(b);
  assert.ok(reaches(a, b), 'healed: reachable again');

  for (const p of procs.splice(0)) await p.stop('SIGKILL');
  await net.destroy();
  await new Promise<void>((resolve) => loopback.close(() => resolve()));
  net = undefined;
  assert.deepEqual(ours(), { namespaces: [], links: [] }, 'destroy() leaves no namespace or link');
});
