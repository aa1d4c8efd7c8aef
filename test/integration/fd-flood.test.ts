/**
 * A connection flood up to the broker process's file limit: `noon up` under `prlimit
 * --nofile=1024`, connections from eight loopback addresses (127.0.0.2-9, each under the
 * per-address cap) until far more than 1024 have been tried. The broker keeps descriptors for
 * itself (edge/fd-budget.ts): the connections past its budget are refused and counted as
 * noon_dropped_total{reason="fd_limit"}, a client connected before the flood keeps calling with no
 * error, and once the flood is gone the broker accepts and serves a new client.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import * as thrift from 'thrift';
import { NoonClient } from '../../client';
import { Sso } from '../../shared/protocol';
import { buildMessage } from '../../shared/thrift/messages';
import { cleanEnv, clusterFlags, NOON, runNoon, tempDir } from '../support/cli-proc';
import { goodLoop } from '../support/fuzz-good-client';
import { TestProcess } from '../support/process';

const FILE_LIMIT = 1024;
const ADDRESSES = 8;
const PER_ADDRESS = 200;
const data = tempDir('noon-fd-flood-');
let up: TestProcess;
let ready: Record<string, unknown>;

const PING = (() => {
  const body = buildMessage('compact', (out) => {
    out.writeMessageBegin('Sso:ping', thrift.Thrift.MessageType.CALL, 1);
    new Sso.PingArgs().write(out);
    out.writeMessageEnd();
  });
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
})();

before(async () => {
  const env = cleanEnv({
    NOON_CALLS_PER_SECOND: '1000000',
    NOON_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS),
    NOON_LOG_LEVEL: 'error',
  });
  up = new TestProcess([NOON, 'up', ...clusterFlags(data.dir)], env, 'noon up (nofile 1024)', {
    wrap: ['prlimit', `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`],
  });
  ready = await up.waitFor('ready line', () => up.jsonLine({ ready: 'up' }), 90_000);
});

after(async () => {
  const exit = await up.stop('SIGINT', 20_000);
  data.remove();
  assert.equal(exit.code, 0, 'the cluster stops cleanly after the flood');
});

async function dropped(metricsUrl: string, reason: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('noon_dropped_total{') && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** One connection from `localAddress`: kept when it answers a ping, refused when the broker closes it. */
function probe(port: number, localAddress: string): Promise<{ kept: boolean; socket: Socket }> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => s.write(PING));
    s.on('error', () => undefined);
    s.once('data', () => resolve({ kept: true, socket: s }));
    s.once('close', () => resolve({ kept: false, socket: s }));
  });
}

test(`a flood from ${ADDRESSES} addresses past the broker's file limit (${FILE_LIMIT}): refused and counted, a connected client sees no error, new clients served after`, async () => {
  const instances = JSON.parse(
    (await runNoon(['yellow', 'instances', '--json', '--yellow', String(ready.yellow)])).stdout,
  ) as Array<{ role: string; endpoints: { metrics?: string } }>;
  const brokerMetrics = String(instances.find((i) => i.role === 'broker')?.endpoints.metrics);
  const port = Number(
    String((ready.broker as { tcp: string }).tcp)
      .split(':')
      .pop(),
  );

  const good = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false });
  await good.sso.register('fd-good', 'fd-password-1');
  const loop = goodLoop(good);
  const before = await dropped(brokerMetrics, 'fd_limit');

  const verdicts: Array<{ kept: boolean; socket: Socket }> = [];
  for (let a = 0; a < ADDRESSES; a++)
    verdicts.push(...(await Promise.all(Array.from({ length: PER_ADDRESS }, () => probe(port, `127.0.0.${2 + a}`)))));
  const kept = verdicts.filter((v) => v.kept).length;
  const refusedFd = (await dropped(brokerMetrics, 'fd_limit')) - before;
  const stats = await loop.stop();
  process.stderr.write(
    `fd flood: ${verdicts.length} tried, ${kept} kept, fd_limit refusals ${refusedFd}, good client ${JSON.stringify(stats)}\n`,
  );
  assert.ok(kept < FILE_LIMIT, `fewer than the file limit kept (${kept})`);
  assert.ok(kept > FILE_LIMIT / 2, `most of the budget was used (${kept})`);
  assert.equal(refusedFd, verdicts.length - kept, 'every connection not kept was refused for the file limit');
  assert.deepEqual(stats.errorSamples, []);
  assert.equal(stats.errors, 0);
  assert.ok(stats.calls > 0);
  good.close();

  for (const v of verdicts) v.socket.destroy();
  // The broker sees the closes and has its budget back: a new client is served end to end.
  const later = await NoonClient.viaBrokerList(String(ready.brokerlist), { reconnect: false });
  try {
    await later.sso.register('fd-later', 'fd-password-1');
    assert.equal(Number((await later.player.getWallet()).soft?.toString()), 1000);
  } finally {
    later.close();
  }
  const again = await probe(port, '127.0.0.2');
  assert.equal(again.kept, true, 'a flood address is accepted again');
  again.socket.destroy();
});
