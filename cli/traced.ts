/**
 * Wraps a ServiceDef so that every call is logged at debug with its trace id (ctx.log carries
 * `trace` and `method`): one request can then be followed from the broker's `forward` line
 * through every service it reaches. The framework's ServiceServer does not log calls itself.
 */
import type { CallContext, ServiceDef } from '../services/framework/types';

type Handler = (...args: unknown[]) => unknown;

function isContext(v: unknown): v is CallContext {
  return typeof v === 'object' && v !== null && 'traceId' in v && 'log' in v;
}

export function traced<H>(def: ServiceDef<H>): ServiceDef<H> {
  const handlers: Record<string, Handler> = {};
  for (const [name, fn] of Object.entries(def.handlers as unknown as Record<string, Handler>)) {
    handlers[name] = (...args: unknown[]) => {
      const ctx = args[args.length - 1];
      if (!isContext(ctx) || !ctx.log.isLevelEnabled('debug')) return fn(...args);
      const started = performance.now();
      ctx.log.debug({ user: ctx.userId || undefined, via: ctx.via }, 'call');
      const done = (outcome: 'ok' | 'error'): void => ctx.log.debug({ outcome, ms: Number((performance.now() - started).toFixed(2)) }, 'call done');
      try {
        const out = fn(...args);
        if (out instanceof Promise) return out.then((v) => (done('ok'), v), (e: unknown) => (done('error'), Promise.reject(e)));
        done('ok');
        return out;
      } catch (e) {
        done('error');
        throw e;
      }
    };
  }
  return { ...def, handlers: handlers as unknown as ServiceDef<H>['handlers'] };
}
