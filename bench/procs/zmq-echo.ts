// Raw baseline: a ROUTER that sends every message back to its sender, untouched (no codec).
// BENCH_SEND_MODE=coalescing|turn|plain (bench/lib/zmq-senders.ts). Ready line: {"ready":"echo","router":...}.
import * as zmq from 'zeromq';
import { RawSender, sendModeOf } from '../lib/zmq-senders';

async function main(): Promise<void> {
  const mode = sendModeOf(process.env.BENCH_SEND_MODE);
  const router = new zmq.Router({
    linger: 0,
    sendHighWaterMark: 50_000,
    receiveHighWaterMark: 50_000,
    sendTimeout: 1000,
  });
  await router.bind('tcp://127.0.0.1:*');
  const sender = new RawSender(router, mode);
  process.stdout.write(`${JSON.stringify({ ready: 'echo', router: router.lastEndpoint, mode })}\n`);
  const stop = (): void => {
    sender.close();
    router.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  for await (const [peer, ...frames] of router) if (peer) sender.send(frames, peer);
}

void main();
