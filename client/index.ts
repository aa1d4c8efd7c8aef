/** The noon client SDK: import from 'client' rather than its files. */
export { NoonClient, type NoonClientOptions } from './client';
export {
  fetchBrokers,
  parseBrokerList,
  pickBroker,
  rankBrokers,
  endpointOf,
  type BrokerInfo,
  type FetchBrokersOptions,
  type TransportKind,
} from './brokerlist';
export { Connection, CLIENT_CAPS, type ConnectionOptions } from './connection';
export { ClientError, ClientErrorCodes, errorCode, type ClientErrorCode } from './errors';
export { PUSH_NAMES, type ClientEvents, type DisconnectInfo, type PushName, type ReconnectInfo } from './events';
export {
  connectTcp,
  connectWs,
  connectTransport,
  FrameReader,
  parseHostPort,
  DEFAULT_MAX_FRAME,
  type Transport,
  type TransportHandlers,
  type TransportOptions,
} from './transports';
