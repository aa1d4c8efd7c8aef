/** `noon start broker`: one broker process; prints a JSON ready line, stops on SIGTERM/SIGINT. */
import type { Config } from '../shared/config';
import type { Logger } from '../shared/log';
import { Broker, type BrokerEndpoints } from './broker';

export async function runBroker(cfg: Config, logger: Logger): Promise<{ broker: Broker; endpoints: BrokerEndpoints }> {
  const broker = new Broker({ cfg, logger });
  const endpoints = await broker.start();
  process.stdout.write(`${JSON.stringify({ ready: 'broker', ...endpoints })}\n`);
  return { broker, endpoints };
}
