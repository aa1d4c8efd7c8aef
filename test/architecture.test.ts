/**
 * The tree is the architecture (STYLE.md 1, 3, 9): game services never touch a socket, and `any`
 * appears only where TypeScript leaves no other way (each place says why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
const GAME_SERVICES = ['sso', 'player', 'duel', 'chat', 'leaderboard'].map((s) => join('services', s));
const SOURCE_DIRS = ['shared', 'yellow', 'broker', 'edge', 'services', 'client', 'cli', 'loadtest'];

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (name === 'gen' || name === 'node_modules') return [];
    return statSync(join(ROOT, rel)).isDirectory() ? tsFiles(rel) : rel.endsWith('.ts') ? [rel] : [];
  });
}

test('game services import no socket library (only the framework, broker, edge and yellow do)', () => {
  const forbidden = /from '(zeromq|ws|node:net|net|node:http|http|node:dgram)'/;
  const offenders = GAME_SERVICES.flatMap(tsFiles).filter((f) => forbidden.test(readFileSync(join(ROOT, f), 'utf8')));
  assert.deepEqual(offenders, []);
  assert.ok(GAME_SERVICES.flatMap(tsFiles).length >= 20, 'the game services were found');
});

test('`any` is used only in the two places TypeScript requires it', () => {
  const uses = SOURCE_DIRS.flatMap(tsFiles).flatMap((f) =>
    readFileSync(join(ROOT, f), 'utf8')
      .split('\n')
      .map((line, i) => ({ where: `${relative(ROOT, join(ROOT, f))}:${i + 1}`, line }))
      .filter(({ line }) => !line.trim().startsWith('//') && !line.trim().startsWith('*') && /(:\s*any\b|\bas any\b|<any>|any\[\])/.test(line)),
  );
  assert.deepEqual(uses.map((u) => u.where.replace(/:\d+$/, '')).sort(), ['services/framework/module.ts', 'shared/thrift/capped.ts']);
});
