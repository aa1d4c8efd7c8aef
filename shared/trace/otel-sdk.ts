/**
 * The CallTracer on the OpenTelemetry SDK: a BasicTracerProvider per role with one
 * BatchSpanProcessor sending OTLP/HTTP (JSON). Imported lazily by tracer.ts, only when an
 * endpoint is configured. The SDK's own OTEL_* variables apply (batch delay and sizes, sampler,
 * headers).
 */
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  diag,
  trace,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../log';
import { formatTraceparent, type SpanParent } from './traceparent';
import type { CallSpan, CallTracer, SpanAttributes, SpanKindName, TracerIdentity } from './tracer';

class OtelCallSpan implements CallSpan {
  readonly traceId: string;
  constructor(readonly span: Span) {
    this.traceId = span.spanContext().traceId;
  }

  get traceparent(): string {
    const c = this.span.spanContext();
    return formatTraceparent({ traceId: c.traceId, spanId: c.spanId, sampled: (c.traceFlags & 1) === 1 });
  }

  end(outcome: string, attributes?: SpanAttributes): void {
    if (attributes) this.span.setAttributes(attributes);
    this.span.setAttribute('noon.outcome', outcome);
    if (outcome !== 'ok') {
      this.span.setAttribute('error.type', outcome);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    }
    this.span.end();
  }
}

let diagnosed = false;

/** The SDK reports failed exports through its global diag logger: once per process, to ours at warn. */
function reportSdkProblems(logger: Logger): void {
  if (diagnosed) return;
  diagnosed = true;
  // An unreachable collector is the operator's to fix, not a failure of the call: warn, not error.
  const warn = (message: string, ...args: unknown[]): void =>
    logger.warn({ otel: args.map(String).join(' ') || undefined }, `opentelemetry: ${message}`);
  diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
}

/** A parent received from another process (the envelope's traceparent). */
function remoteParent(p: SpanParent): ReturnType<typeof trace.setSpanContext> {
  const traceFlags = p.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags, isRemote: true });
}

const KIND = { server: SpanKind.SERVER, client: SpanKind.CLIENT } as const;

export function otelTracer(who: TracerIdentity, url: string | undefined, logger: Logger): CallTracer {
  reportSdkProblems(logger);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: who.role,
      [ATTR_SERVICE_VERSION]: who.version,
      'service.namespace': 'noon',
      'service.instance.id': who.instanceId,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(url === undefined ? {} : { url }))],
  });
  const tracer = provider.getTracer('noon', who.version);
  return {
    start(name: string, kind: SpanKindName, parent: CallSpan | SpanParent | undefined, attributes: SpanAttributes) {
      const context =
        parent === undefined
          ? ROOT_CONTEXT
          : parent instanceof OtelCallSpan
            ? trace.setSpan(ROOT_CONTEXT, parent.span)
            : remoteParent(parent as SpanParent);
      return new OtelCallSpan(tracer.startSpan(name, { kind: KIND[kind], attributes }, context));
    },
    shutdown: () => provider.shutdown(),
  };
}
