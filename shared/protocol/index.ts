/** The generated Thrift code (npm run gen), re-exported so nobody imports gen/ paths directly. */
export * from './gen/noon';
