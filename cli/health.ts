/**
 * `noon health`: the path a game client takes, end to end, each step with its own deadline:
 * BrokerList → connect to a broker → register a throwaway user → log in again → a call
 * (Player:getWallet) → a push (walletChanged after a purchase). Exit 0, or 1 naming the step.
 */
import { randomBytes } from 'node:crypto';
import Int64 from 'node-int64';
import { BuyRequest, Currency } from '../shared/protocol';
import { NoonClient } from '../client/client';
import { fetchBrokers } from '../client/brokerlist';
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

export async function checkHealth(brokerlist: string, stepMs: number): Promise<HealthReport> {
  const steps: StepResult[] = [];
  let client: NoonClient | undefined;
  try {
    await step(
      steps,
      'brokerlist',
      stepMs,
      async () => {
        const brokers = await fetchBrokers(brokerlist, { timeoutMs: stepMs });
        if (brokers.length === 0) throw new Error('the BrokerList lists no broker');
        return brokers;
      },
      (b) => `${b.length} broker(s): ${b.map((x) => x.tcp ?? x.ws).join(', ')}`,
    );
    client = await step(
      steps,
      'connect',
      stepMs,
      () =>
        NoonClient.viaBrokerList(brokerlist, {
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
      () => pushAfterPurchase(c),
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

/** Buys 1 soft currency and resolves with the soft balance the walletChanged push carries. */
async function pushAfterPurchase(c: NoonClient): Promise<string> {
  const pushed = new Promise<string>((resolve) => {
    const off = c.on('walletChanged', (w) => {
      off();
      resolve(String(w.soft));
    });
  });
  const wallet = await c.player.buyCurrency(
    new BuyRequest({
      receiptId: `health-${randomBytes(8).toString('hex')}`,
      currency: Currency.SOFT,
      amount: new Int64(1),
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
