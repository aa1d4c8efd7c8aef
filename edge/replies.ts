/** Broker-made errors as TApplicationException replies in the caller's protocol, with its seqid. */
import * as thrift from 'thrift';
import type { ErrorCode } from '../shared/errors';
import type { MessageHeader } from '../shared/thrift/header';
import { applicationException } from '../shared/thrift/messages';

const AppType = thrift.Thrift.TApplicationExceptionType;

function exceptionType(code: ErrorCode): thrift.Thrift.TApplicationExceptionType {
  switch (code) {
    case 'UNKNOWN_METHOD':
      return AppType.UNKNOWN_METHOD;
    case 'PROTOCOL':
      return AppType.PROTOCOL_ERROR;
    case 'INTERNAL':
      return AppType.INTERNAL_ERROR;
    default:
      return AppType.UNKNOWN;
  }
}

/** The message starts with the code ("UNAVAILABLE: ..."): clients match on it. */
export function errorReply(header: MessageHeader, code: ErrorCode, detail: string): Buffer {
  const message = detail.startsWith(`${code}: `) ? detail : `${code}: ${detail}`;
  return applicationException(header.protocol, header.name, header.seqid, exceptionType(code), message);
}
