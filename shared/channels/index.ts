/** Channels shared by the broker (filters, attributes) and the channels service (rules). */
export * from './rules';
export * from './attributes';
export * from './filter';
