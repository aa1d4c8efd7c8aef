/** The noon client SDK: import from 'client' rather than its files. */
export { NoonClient, type BrokerTarget, type NoonClientOptions } from './client';
export {
  ClientCore,
  type Api,
  type BigintApi,
  type EventsOf,
  type I64Option,
  type Out,
  type PushHandler,
} from './core';
export {
  bigints,
  enumName,
  i64,
  isInt64,
  toBigInt,
  type Bigints,
  type I64Arg,
  type I64Input,
  type I64Mode,
  type I64Params,
} from './i64';
export {
  fetchBrokers,
  parseBrokerList,
  pickBroker,
  rankBrokers,
  endpointOf,
  certificateProblem,
  TRANSPORT_KINDS,
  type BrokerInfo,
  type FetchBrokersOptions,
  type FetchLike,
  type TransportKind,
} from './brokerlist';
export { Connection, CLIENT_CAPS, type ConnectionOptions } from './connection';
export { ClientError, ClientErrorCodes, errorCode, type ClientErrorCode } from './errors';
export {
  PUSH_NAMES,
  type ClientEvents,
  type DisconnectInfo,
  type ProcessorClass,
  type PushName,
  type ReconnectInfo,
} from './events';
export {
  connectTcp,
  connectTls,
  connectWs,
  fetchWithCa,
  connectTransport,
  FrameReader,
  parseHostPort,
  DEFAULT_MAX_FRAME,
  type Connector,
  type Transport,
  type TransportHandlers,
  type TransportOptions,
} from './transports';
export {
  ChannelTracker,
  toAttributes,
  toEvent,
  type AttributeValue,
  type Attributes,
  type ChannelEvent,
  type ChannelHandle,
  type ChannelSubscribeOptions,
} from './channels';
