#!/usr/bin/env node
// npm run build: the compiled package a studio installs (what `npm pack` ships). Generates the
// Thrift code, compiles the sources to dist/ as CommonJS with .d.ts (tsconfig.build.json), and
// copies the non-TypeScript files the code reads at run time next to the compiled JS, so paths
// resolved from __dirname work the same in dist/ as in the sources.
'use strict';
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, readdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');
/** Runs a step; a failure (its message is already on stderr) ends the build with its status. */
function run(file, args) {
  try {
    execFileSync(file, args, { cwd: root, stdio: 'inherit' });
  } catch (e) {
    console.error(`build failed: ${[file, ...args].map((a) => a.replace(root + '/', '')).join(' ')}`);
    process.exit(e.status || 1);
  }
}

run(process.execPath, [join(__dirname, 'gen-thrift.js')]);

// A clean dist/ (nothing stale from deleted sources), except dist/browser/: the browser bundle
// is made by its own step and is not ours to delete.
if (existsSync(dist)) {
  for (const name of readdirSync(dist))
    if (name !== 'browser') rmSync(join(dist, name), { recursive: true, force: true });
}
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')]);

// Run-time assets: the loadtest scenarios (cli/commands/loadtest.ts's DEFAULT_SCENARIO) and the
// IDL (studios `include` it; code that resolves it from __dirname finds it in dist/ too).
const assets = [
  ['loadtest/scenarios', (f) => f.endsWith('.json')],
  ['shared/protocol', (f) => f.endsWith('.thrift')],
];
for (const [dir, keep] of assets) {
  for (const f of readdirSync(join(root, dir)).filter(keep)) cpSync(join(root, dir, f), join(dist, dir, f));
}

// The console's page (console/assets.ts reads it from dist/console/page/): its HTML and CSS, and
// its script compiled for the browser with the options of compilePageScript there.
const page = join(root, 'console', 'page');
for (const f of ['index.html', 'console.css']) cpSync(join(page, f), join(dist, 'console', 'page', f));
require('esbuild').buildSync({
  entryPoints: [join(page, 'app.ts')],
  outfile: join(dist, 'console', 'page', 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  logLevel: 'warning',
});

// The browser bundle, if its step exists (`npm run build:browser`), comes last.
if (require(join(root, 'package.json')).scripts['build:browser']) {
  const npm = process.env.npm_execpath; // npm's own CLI when npm runs us (npm run build, npm pack)
  if (npm) run(process.execPath, [npm, 'run', 'build:browser']);
  else run('npm', ['run', 'build:browser']);
}
console.log(`built ${dist}`);
