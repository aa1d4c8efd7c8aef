/**
 * The spans of one forwarded client call: a SERVER span for the client's hop to this broker,
 * covering the whole call (routing, retries, delivery), and a CLIENT span per attempt toward a
 * service instance, whose traceparent the request envelope carries to that instance.
 */
import { callSpan, type CallSpan, type CallTracer, type SpanAttributes } from '../shared/trace/tracer';

export class ForwardSpans {
  private readonly call: CallSpan;
  private readonly name: string;
  private readonly attributes: SpanAttributes;

  constructor(
    private readonly tracer: CallTracer,
    method: string,
    requestBytes: number,
    userId: string | undefined,
  ) {
    const { name, attributes } = callSpan(method);
    this.name = name;
    this.attributes = attributes;
    this.call = tracer.start(name, 'server', undefined, {
      ...attributes,
      ...(userId ? { 'noon.user': userId } : {}),
      'noon.request.bytes': requestBytes,
    });
  }

  get traceId(): string {
    return this.call.traceId;
  }

  /** The CLIENT span of attempt `attempt` (0 first) toward `instanceId`. */
  attempt(instanceId: string, attempt: number, requestBytes: number): CallSpan {
    return this.tracer.start(this.name, 'client', this.call, {
      ...this.attributes,
      'noon.instance': instanceId,
      'noon.attempt': attempt + 1,
      'noon.request.bytes': requestBytes,
    });
  }

  end(outcome: string, replyBytes: number): void {
    this.call.end(outcome, { 'noon.reply.bytes': replyBytes });
  }
}
