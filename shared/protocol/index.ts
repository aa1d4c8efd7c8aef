/** The generated Thrift code (npm run gen), re-exported so nobody imports gen/ paths directly. */
export * from './gen/noon';
/** names of the fields and arguments the IDL marks sensitive (redacted by the traffic tap) */
export { SENSITIVE_FIELDS } from './gen/sensitive';
