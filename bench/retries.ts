/**
 * The cost of the reply cache on the call path (docs/retries.md): `Chat:say` requests straight to
 * a service child's ROUTER (bench/procs/say-service.ts; its handler does no I/O), in the same run,
 *   - without a client request id (the cache is not consulted: the path as before),
 *   - with a fresh request id per call, outcomes shared through Redis (a claim and a write per call),
 *   - with a fresh request id per call, outcomes kept in the service's process only,
 *   - with one request id for every call (a retry storm: answered from the in-process cache),
 * at 1 and 64 calls in flight. The ratio is calls/s with the cache over calls/s without.
 *
 *   node --import tsx bench/retries.ts      (BENCH_REDIS_URL overrides redis://127.0.0.1:6379/11)
 */
import { randomBytes } from 'node:crypto';
import * as thrift from 'thrift';
import { Redis } from 'ioredis';
import { silentLogger } from '../shared/log';
import { Chat } from '../shared/protocol';
import { buildMessage } from '../shared/thrift/messages';
import { Links } from '../rpc/links';
import { closedLoop, timings, type LoadResult } from './lib/load';
import { spawnReady, stopChild, type Child } from './lib/procs';
import { progress, resultTable, type Row } from './lib/table';
import { runAsMain } from './lib/main';

const LEVELS = [1, 64];
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11';

function sayCall(): Buffer {
  return buildMessage('compact', (out) => {
    out.writeMessageBegin('Chat:say', thrift.Thrift.MessageType.CALL, 1);
    new Chat.SayArgs({ roomId: 'bench', text: 'hello bench' }).write(out);
    out.writeMessageEnd();
  });
}

export async function runRetries(): Promise<string> {
  const { warmupMs, durationMs } = timings();
  const keyPrefix = `bench-retries-${randomBytes(4).toString('hex')}:`;
  const children: Child[] = [];
  const rows: Row[] = [];
  const ratios: string[] = ['| in flight | variant | calls/s | vs no request id |', '| ---: | --- | ---: | ---: |'];
  const links = new Links({
    identity: `bench-${process.pid}`,
    logger: silentLogger(),
    maxQueued: 100_000,
    maxPayload: 1 << 20,
  });
  try {
    const [shared, local] = await Promise.all([
      spawnReady('say-redis', 'bench/procs/say-service.ts', { NOON_REDIS: REDIS_URL, BENCH_KEY_PREFIX: keyPrefix }),
      spawnReady('say-local', 'bench/procs/say-service.ts', {}),
    ]);
    children.push(shared, local);
    const payload = sayCall();
    const stream = randomBytes(6).toString('hex');
    let counter = 0;
    const freshId = (): string => stream + (++counter).toString(16).padStart(8, '0');
    const call = async (target: Child, clientRequestId?: string): Promise<void> => {
      const reply = await links.request(
        { instanceId: target.name, router: String(target.ready.router) },
        {
          timeoutMs: 10_000,
          sessionId: 's-bench',
          userId: 'u-bench',
          username: 'bench',
          method: 'Chat:say',
          via: `bench-${process.pid}`,
          traceId: 'bench',
          ...(clientRequestId ? { clientRequestId } : {}),
          payload,
        },
      );
      if (reply.error) throw reply.error;
    };
    await call(shared);
    await call(local);
    const stormId = freshId();
    for (const inFlight of LEVELS) {
      const measure = async (label: string, fn: () => Promise<void>, server: Child): Promise<LoadResult> => {
        const result = await closedLoop({
          inFlight,
          warmupMs,
          durationMs,
          call: fn,
          cpu: { client: process.pid, service: server.pid },
        });
        progress(`${label} @${inFlight}`, result);
        rows.push({ label, result });
        return result;
      };
      const base = await measure('no request id (cache not consulted)', () => call(shared), shared);
      const variants: Array<[string, LoadResult]> = [
        [
          'fresh id per call, shared in Redis',
          await measure('fresh id per call, shared in Redis', () => call(shared, freshId()), shared),
        ],
        [
          'fresh id per call, in-process only',
          await measure('fresh id per call, in-process only', () => call(local, freshId()), local),
        ],
        [
          'one id for all (retries answered from the cache)',
          await measure('one id for all (retries answered from the cache)', () => call(shared, stormId), shared),
        ],
      ];
      ratios.push(`| ${inFlight} | no request id | ${Math.round(base.rate).toLocaleString('en-US')} | 100% |`);
      for (const [label, r] of variants)
        ratios.push(
          `| ${inFlight} | ${label} | ${Math.round(r.rate).toLocaleString('en-US')} | ${((r.rate / base.rate) * 100).toFixed(0)}% |`,
        );
    }
  } finally {
    links.close();
    await Promise.all(children.map((c) => stopChild(c)));
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  return [
    '### Reply cache on the call path (retries)',
    '',
    `Closed loop, ${timings().durationMs / 1000} s per row after ${timings().warmupMs / 1000} s warm-up. Client = this process (Links → ROUTER); service = a child whose Chat:say does no I/O.`,
    '',
    resultTable(rows),
    '',
    ratios.join('\n'),
  ].join('\n');
}

if (require.main === module) runAsMain(runRetries);
