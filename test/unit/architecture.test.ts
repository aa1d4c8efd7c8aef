/**
 * The tree is the architecture: imports point down the layers of docs/architecture.md, game
 * services see only the service API, nothing imports in a cycle, and `any` appears only where
 * TypeScript leaves no other way. Each rule is shown to pass on the real tree and to fail when
 * a forbidden import is added to a copy of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { checkArchitecture, sourceTree, type Violation } from '../support/architecture';

const ROOT = join(__dirname, '..', '..');
const tree = sourceTree(ROOT);

/** The real tree with one more file (or one file replaced). */
const withFile = (path: string, source: string): Map<string, string> => new Map([...tree, [path, source]]);
const rules = (vs: Violation[]): string[] => vs.map((v) => `${v.file}: ${v.rule}`);

test('the real tree keeps every import rule', () => {
  assert.ok(tree.size > 150, `the sources were found (${tree.size} files)`);
  assert.deepEqual(checkArchitecture(tree), []);
});

const FORBIDDEN: ReadonlyArray<{ name: string; file: string; source: string; rule: RegExp }> = [
  {
    name: 'broker imports a game service',
    file: 'broker/x.ts',
    source: "import { playerModule } from '../services/player/module';",
    rule: /^broker\/x\.ts: broker\/ may import only/,
  },
  {
    name: 'edge imports the service list',
    file: 'edge/x.ts',
    source: "import { SERVICE_MODULES } from '../services/index';",
    rule: /^edge\/x\.ts: edge\/ may import only/,
  },
  {
    name: 'the console imports the broker',
    file: 'console/x.ts',
    source: "import { Gateway } from '../broker/gateway';",
    rule: /^console\/x\.ts: console\/ may import only/,
  },
  {
    name: 'edge imports the broker',
    file: 'edge/x.ts',
    source: "import { Gateway } from '../broker/gateway';",
    rule: /^edge\/x\.ts: edge\/ may import only/,
  },
  {
    name: 'shared imports Yellow',
    file: 'shared/x.ts',
    source: "import type { Directory } from '../yellow/directory';",
    rule: /^shared\/x\.ts: shared\/ may import only shared$/,
  },
  {
    name: 'rpc imports a role host',
    file: 'rpc/x.ts',
    source: "import { RoleHost } from '../roles/host';",
    rule: /^rpc\/x\.ts: rpc\/ may import only/,
  },
  {
    name: 'a game service imports Yellow',
    file: 'services/duel/x.ts',
    source: "import { YellowClient } from '../../yellow/client';",
    rule: /services\/ may import only/,
  },
  {
    name: 'a game service imports the runtime',
    file: 'services/duel/x.ts',
    source: "import { startServiceRuntime } from '../../rpc/service-runtime';",
    rule: /only the service API/,
  },
  {
    name: 'a game service opens a socket',
    file: 'services/chat/x.ts',
    source: "import * as zmq from 'zeromq';",
    rule: /services\/ opens no sockets/,
  },
  {
    name: 'broker imports a game service for its side effects only',
    file: 'broker/x.ts',
    source: "import '../services/player/module';",
    rule: /^broker\/x\.ts: broker\/ may import only/,
  },
  {
    name: 'edge imports a game service with double quotes',
    file: 'edge/x.ts',
    source: 'import { playerModule } from "../services/player/module";',
    rule: /^edge\/x\.ts: edge\/ may import only/,
  },
  {
    name: 'a role opens a socket of its own',
    file: 'roles/x.ts',
    source: "import * as zmq from 'zeromq';",
    rule: /^roles\/x\.ts: roles\/ opens no sockets/,
  },
  {
    name: 'the SDK imports the broker',
    file: 'client/x.ts',
    source: "import { route } from '../broker/route';",
    rule: /client\/ may import only client, shared$/,
  },
];

for (const c of FORBIDDEN) {
  test(`a forbidden import fails the check: ${c.name}`, () => {
    const found = rules(checkArchitecture(withFile(c.file, c.source)));
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0] as string, c.rule);
  });
}

test('an import cycle fails the check, naming its files', () => {
  const a = withFile('shared/cycle-a.ts', "import { b } from './cycle-b';\nexport const a = 1;");
  a.set('shared/cycle-b.ts', "import { a } from './cycle-a';\nexport const b = 2;");
  const found = checkArchitecture(a);
  assert.deepEqual(
    found.map((v) => [v.rule, v.imports]),
    [['no import cycles', 'shared/cycle-a.ts -> shared/cycle-b.ts -> shared/cycle-a.ts']],
  );
});

test('`any` is used only in the two places TypeScript requires it', () => {
  const uses = [...tree].flatMap(([file, source]) =>
    source
      .split('\n')
      .filter(
        (line) =>
          !line.trim().startsWith('//') &&
          !line.trim().startsWith('*') &&
          /(:\s*any\b|\bas any\b|<any>|any\[\])/.test(line),
      )
      .map(() => relative(ROOT, join(ROOT, file))),
  );
  assert.deepEqual(uses.sort(), ['rpc/api.ts', 'shared/thrift/capped.ts']);
});
