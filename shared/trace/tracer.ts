/**
 * Spans of calls, as the hot path sees them: a small interface with one implementation on the
 * OpenTelemetry SDK (otel-sdk.ts), loaded only when an OTLP endpoint is configured. Without one
 * there is no tracer at all (callers hold `undefined`), so the SDK is never imported and a call
 * pays only for its trace id.
 */
import type { Logger } from '../log';
import type { SpanParent } from './traceparent';

export type SpanKindName = 'server' | 'client';
export type SpanAttributes = Record<string, string | number | boolean>;

export interface CallSpan {
  /** the trace this span belongs to: 32 hex digits */
  readonly traceId: string;
  /** this span as the parent of the next hop: what the request envelope carries */
  readonly traceparent: string;
  /** ends the span: `outcome` is `ok` or an error code (the span's status is then ERROR) */
  end(outcome: string, attributes?: SpanAttributes): void;
}

export interface CallTracer {
  /**
   * A started span. `parent` is a span of this process, a parent received from another process,
   * or none (the span starts a new trace).
   */
  start(
    name: string,
    kind: SpanKindName,
    parent: CallSpan | SpanParent | undefined,
    attributes: SpanAttributes,
  ): CallSpan;
  /** exports what is buffered, then stops */
  shutdown(): Promise<void>;
}

/** Who the spans of a process are: OpenTelemetry's service.name is the role. */
export interface TracerIdentity {
  role: string;
  instanceId: string;
  version: string;
}

/** The span name and attributes of a call to `Service:method` (OpenTelemetry's RPC conventions). */
export function callSpan(method: string): { name: string; attributes: SpanAttributes } {
  const colon = method.indexOf(':');
  const service = colon < 0 ? method : method.slice(0, colon);
  const name = colon < 0 ? '' : method.slice(colon + 1);
  return {
    name: `${service}/${name}`,
    attributes: { 'rpc.system': 'noon', 'rpc.service': service, 'rpc.method': name },
  };
}

/**
 * Where spans go, or undefined for no spans: `--otlp-endpoint` (a base URL, as
 * OTEL_EXPORTER_OTLP_ENDPOINT: `/v1/traces` is appended), else the standard variables, which the
 * exporter reads itself (`url` is then undefined but `enabled` true). OTEL_SDK_DISABLED=true
 * turns every span off.
 */
export function exportTarget(
  otlpEndpoint: string | undefined,
  env: NodeJS.ProcessEnv,
): { url: string | undefined } | undefined {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return undefined;
  if (otlpEndpoint !== undefined) return { url: `${otlpEndpoint.replace(/\/+$/, '')}/v1/traces` };
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT) return { url: undefined };
  return undefined;
}

/**
 * The process's tracer for one role, or undefined when no endpoint is configured (nothing of
 * the SDK is loaded then).
 */
export async function openTracer(
  who: TracerIdentity,
  opts: { otlpEndpoint: string | undefined; env: NodeJS.ProcessEnv; logger: Logger },
): Promise<CallTracer | undefined> {
  const target = exportTarget(opts.otlpEndpoint, opts.env);
  if (!target) return undefined;
  const { otelTracer } = await import('./otel-sdk.js');
  return otelTracer(who, target.url, opts.logger);
}
