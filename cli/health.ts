/**
 * `noon health`: the path a game client takes, end to end, each step with its own deadline:
 * BrokerList → connect to a broker → register a throwaway user → log in again → a call
 * (Player:getWallet) → a push (walletChanged after spending 1 soft of the starter wallet). Exit 0,
 * or 1 naming the step. It buys nothing: a health check must work (and mint nothing) on a cluster
 * whose purchases are off or verified by a real store.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Int64 from 'node-int64';
import { Currency, SpendRequest } from '../shared/protocol';
import { ConfigError } from '../shared/config';
import { NoonClient } from '../client/client';
import { endpointOf, fetchBrokers, type TransportKind } from '../client/brokerlist';
import { fetchWithCa } from '../client/transports';
import { errorCode } from '../client/errors';

export interface StepResult {
  step: string;
  ok: boolean;
  ms: number;
  detail?: string;
  error?: string;
}

export interface HealthReport {
  ok: boolean;
  brokerlist: string;
  failedStep?: string;
  steps: StepResult[];
}

export class StepFailed extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
  }
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const msg =
    err instanceof Error
      ? err.message
      : typeof err === 'object' && err !== null && 'message' in err
        ? String(err.message)
        : String(err);
  return code && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}

/** Runs `fn` under a deadline; records the step either way; throws StepFailed on failure. */
async function step<T>(
  steps: StepResult[],
  name: string,
  deadlineMs: number,
  fn: () => Promise<T>,
  detail?: (v: T) => string,
): Promise<T> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${deadlineMs} ms`)), deadlineMs);
  });
  try {
    const v = await Promise.race([fn(), deadline]);
    steps.push({ step: name, ok: true, ms: Date.now() - started, ...(detail ? { detail: detail(v) } : {}) });
    return v;
  } catch (err) {
    const error = describe(err);
    steps.push({ step: name, ok: false, ms: Date.now() - started, error });
    throw new StepFailed(name, error);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a --ca file: PEM certificate(s). A missing or non-PEM file is a ConfigError naming --ca. */
export function readCaFile(path: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new ConfigError('--ca', `cannot read ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError('--ca', `${JSON.stringify(path)} holds no PEM certificate`);
  return pem;
}

export interface HealthOptions {
  /** PEM CA the BrokerList's and the broker's TLS certificates must chain to; default the system store */
  ca?: Buffer;
  /** the broker transport; default tls for an https:// BrokerList, else tcp */
  transport?: TransportKind;
}

export async function checkHealth(brokerlist: string, stepMs: number, opts: HealthOptions = {}): Promise<HealthReport> {
  const transport = opts.transport ?? (/^https:/i.test(brokerlist) ? 'tls' : 'tcp');
  const ca = opts.ca !== undefined ? { ca: opts.ca } : {};
  const steps: StepResult[] = [];
  let client: NoonClient | undefined;
  try {
    await step(
      steps,
      'brokerlist',
      stepMs,
      async () => {
        const brokers = await fetchBrokers(brokerlist, {
          timeoutMs: stepMs,
          ...(opts.ca !== undefined ? { fetch: fetchWithCa(opts.ca) } : {}),
        });
        if (brokers.length === 0) throw new Error('the BrokerList lists no broker');
        return brokers;
      },
      (b) => `${b.length} broker(s): ${b.map((x) => endpointOf(x, transport) ?? x.tcp ?? x.ws ?? x.tls).join(', ')}`,
    );
    client = await step(
      steps,
      'connect',
      stepMs,
      () =>
        NoonClient.viaBrokerList(brokerlist, {
          transport,
          ...ca,
          callTimeoutMs: stepMs,
          connectTimeoutMs: stepMs,
          brokerListTimeoutMs: stepMs,
          reconnect: false,
          keepAliveMs: 0,
        }),
      (c) => c.endpoint ?? '',
    );
    const c = client;
    const username = `health-${randomBytes(6).toString('hex')}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    await step(
      steps,
      'register',
      stepMs,
      () => c.sso.register(username, password),
      (s) => `${username} (user ${s.userId})`,
    );
    await step(
      steps,
      'login',
      stepMs,
      () => c.sso.login(username, password),
      (s) => `session ${(s.sessionId ?? '').slice(0, 8)}…`,
    );
    await step(
      steps,
      'call',
      stepMs,
      () => c.player.getWallet(),
      (w) => `Player:getWallet soft ${String(w.soft)} hard ${String(w.hard)}`,
    );
    await step(
      steps,
      'push',
      stepMs,
      () => pushAfterSpend(c),
      (soft) => `walletChanged soft ${soft}`,
    );
    return { ok: true, brokerlist, steps };
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    return { ok: false, brokerlist, failedStep: err.step, steps };
  } finally {
    client?.close();
  }
}

/** Spends 1 soft currency and resolves with the soft balance the walletChanged push carries. */
async function pushAfterSpend(c: NoonClient): Promise<string> {
  const pushed = new Promise<string>((resolve) => {
    const off = c.on('walletChanged', (w) => {
      off();
      resolve(String(w.soft));
    });
  });
  const wallet = await c.player.spendCurrency(
    new SpendRequest({
      idempotencyKey: `health-${randomBytes(8).toString('hex')}`,
      currency: Currency.SOFT,
      amount: new Int64(1),
      reason: 'health',
    }),
  );
  const soft = await pushed;
  if (soft !== String(wallet.soft)) throw new Error(`push says soft ${soft}, the reply said ${String(wallet.soft)}`);
  return soft;
}

export function describeHealth(r: HealthReport): string {
  const lines = r.steps.map((s) =>
    `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.step.padEnd(10)} ${String(s.ms).padStart(5)} ms  ${s.ok ? (s.detail ?? '') : (s.error ?? '')}`.trimEnd(),
  );
  const head = r.ok ? `healthy: ${r.brokerlist}` : `UNHEALTHY: step "${r.failedStep ?? '?'}" failed (${r.brokerlist})`;
  return [head, ...lines, ''].join('\n');
}
