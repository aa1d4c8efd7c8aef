#!/usr/bin/env node
// Generates TypeScript from shared/protocol/*.thrift into shared/protocol/gen/ (never committed,
// never edited): the IDL is the one source of truth.
'use strict';
const { execFileSync } = require('node:child_process');
const { readdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const sourceDir = join(root, 'shared', 'protocol');
const outDir = join(sourceDir, 'gen');
rmSync(outDir, { recursive: true, force: true });
const files = readdirSync(sourceDir).filter((f) => f.endsWith('.thrift'));
const bin = require.resolve('@creditkarma/thrift-typescript/dist/main/bin/index.js');
execFileSync(
  process.execPath,
  [bin, '--target', 'apache', '--rootDir', root, '--sourceDir', sourceDir, '--outDir', outDir, ...files],
  { stdio: 'inherit' },
);
console.log(`generated ${files.join(', ')} -> ${outDir}`);
