/** Yellow's public surface, for other layers: import from 'yellow' rather than its files. */
export { YellowClient, type YellowClientOptions } from './client';
export { Directory, type DirectoryEvents, type DirectoryFilter, type DownReason, type PollAnswer } from './directory';
export { Registry, RegistryFullError, type RegistryFilter, type RegistryOptions } from './registry';
export { YellowServer, type YellowServerOptions } from './server';
export type {
  InstanceEndpoints,
  InstanceLoad,
  InstanceRecord,
  InstanceRegistration,
  ServiceMethods,
  YellowEvent,
} from './types';
export { LIMITS, RegistrationError, validateLoad, validateRecord, validateRegistration } from './validate';
export { EVENT_TOPIC, MAX_MESSAGE_BYTES, PROTOCOL_TAG } from './wire';
