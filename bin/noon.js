#!/usr/bin/env node
'use strict';
// The noon CLI runs its TypeScript sources through tsx (no separate build step to forget).
require('tsx/cjs');
require('../cli/main.ts');
