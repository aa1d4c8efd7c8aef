/** Broker-made errors as the standard TApplicationException: message and type both on the wire. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as thrift from 'thrift';
import { applicationException, openMessage } from '../../shared/thrift/messages';

const AppType = thrift.Thrift.TApplicationExceptionType;

const CASES = [
  { protocol: 'compact', type: AppType.UNKNOWN_METHOD, message: 'UNKNOWN_METHOD: Nope:x is not a known method' },
  { protocol: 'binary', type: AppType.INTERNAL_ERROR, message: 'INTERNAL: Player:grant failed' },
  { protocol: 'compact', type: AppType.PROTOCOL_ERROR, message: 'PROTOCOL: bad message' },
] as const;

for (const c of CASES) {
  test(`a ${c.protocol} TApplicationException carries its type (${c.type}) and message`, () => {
    const bytes = applicationException(c.protocol, 'Svc:m', 7, c.type, c.message);
    const { input } = openMessage(bytes, { maxString: 1 << 16, maxContainer: 1000, maxDepth: 8 });
    const header = input.readMessageBegin();
    assert.deepEqual([header.fname, header.mtype, header.rseqid], ['Svc:m', thrift.Thrift.MessageType.EXCEPTION, 7]);
    const read = new thrift.Thrift.TApplicationException();
    read.read(input);
    assert.equal((read as unknown as { type: number }).type, c.type); // @types/thrift omits the field
    assert.equal(read.message, c.message);
  });
}
