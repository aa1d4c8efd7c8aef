#!/usr/bin/env node
'use strict';
// The noon CLI runs its TypeScript sources through tsx (no separate build step to forget).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
// The Thrift code is generated (npm ci runs it); a checkout that skipped install scripts gets it here.
if (!existsSync(join(__dirname, '..', 'shared', 'protocol', 'gen', 'noon', 'index.ts'))) {
  require('node:child_process').execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'gen-thrift.js')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
require('tsx/cjs');
require('../cli/main.ts');
