#!/usr/bin/env node
'use strict';
// The noon command. In a source checkout (cli/main.ts is here) it runs the TypeScript sources
// through tsx, so there is no build step to forget; in an installed package (no sources, only
// the compiled dist/) it runs the compiled JavaScript with plain node.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
if (!existsSync(join(root, 'cli', 'main.ts')) && existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  require('../dist/cli/main.js');
} else {
  // The Thrift code is generated (npm ci runs it); a checkout that skipped install scripts gets it here.
  if (!existsSync(join(root, 'shared', 'protocol', 'gen', 'noon', 'index.ts'))) {
    require('node:child_process').execFileSync(process.execPath, [join(root, 'scripts', 'gen-thrift.js')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  require('tsx/cjs');
  require('../cli/main.ts');
}
