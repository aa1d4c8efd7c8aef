#!/usr/bin/env node
// Builds the browser SDK (client/browser.ts) into dist/browser/noon-client.js: one ES module,
// WebSocket only, no Node API (npm run build:browser; docs/clients.md). The npm `thrift` package
// is reached only through its protocol, transport and type files (never its Node connections),
// its two `util` calls get a small stand-in, and `Buffer` comes from the `buffer` package. Any
// Node built-in that still reaches the bundle fails the build, naming who imported it.
// Also writes dist/browser/noon-client.meta.json: every input file, for staleness checks.
'use strict';
const esbuild = require('esbuild');
const { mkdirSync, statSync, writeFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const root = join(__dirname, '..');
const outDir = join(root, 'dist', 'browser');
const outfile = join(outDir, 'noon-client.js');
const thriftLib = dirname(require.resolve('thrift/lib/nodejs/lib/thrift/thrift.js', { paths: [root] }));
const lib = (f) => JSON.stringify(join(thriftLib, f));

const SHIMS = {
  // What the SDK and generated code use of `thrift`: the types, two protocols, the framed transport.
  thrift: `
    module.exports = {
      Thrift: require(${lib('thrift.js')}),
      TBinaryProtocol: require(${lib('binary_protocol.js')}),
      TCompactProtocol: require(${lib('compact_protocol.js')}),
      TFramedTransport: require(${lib('framed_transport.js')}),
      InputBufferUnderrunError: require(${lib('input_buffer_underrun_error.js')}),
      Int64: require('node-int64'),
    };`,
  // thrift's files call util.inherits (error classes) and util.format (its logger) only.
  util: `
    exports.inherits = function (ctor, superCtor) {
      ctor.super_ = superCtor;
      Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
    };
    exports.format = function () {
      return Array.prototype.map.call(arguments, function (a) {
        return typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a);
      }).join(' ');
    };`,
  'noon-buffer-global': `export { Buffer } from 'buffer';`,
};

const NODE_ONLY =
  /^(node:.*|net|http|https|http2|tls|dgram|crypto|events|fs|child_process|zlib|stream|os|path|worker_threads|ws|zeromq)$/;

const shims = {
  name: 'noon-browser-shims',
  setup(build) {
    build.onResolve({ filter: /^(thrift|util|noon-buffer-global)$/ }, (args) => ({
      path: args.path,
      namespace: 'noon-shim',
    }));
    build.onLoad({ filter: /.*/, namespace: 'noon-shim' }, (args) => ({
      contents: SHIMS[args.path],
      loader: 'js',
      resolveDir: root,
    }));
    build.onResolve({ filter: NODE_ONLY }, (args) => ({
      errors: [
        {
          text: `${JSON.stringify(args.path)} is Node-only and may not reach the browser bundle (imported by ${relative(root, args.importer) || args.importer})`,
        },
      ],
    }));
  },
};

async function main() {
  mkdirSync(outDir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, 'client', 'browser.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    // errorCode() recognises errors of other copies of the generated code by class name
    keepNames: true,
    sourcemap: 'linked',
    inject: ['noon-buffer-global'],
    plugins: [shims],
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('noon-shim:'));
  writeFileSync(
    join(outDir, 'noon-client.meta.json'),
    `${JSON.stringify({ builtAt: new Date().toISOString(), inputs: [...inputs, relative(root, __filename)] }, null, 1)}\n`,
  );
  console.log(`built ${relative(root, outfile)} (${statSync(outfile).size} bytes, ${inputs.length} inputs)`);
}

main().catch((err) => {
  console.error(err.message ?? err);
  process.exit(1);
});
