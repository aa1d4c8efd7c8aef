/**
 * A studio's noon.config.json as a table: what is accepted, what each mistake is refused with
 * (the field named), and which modules a project runs (built-ins kept, switched off, replaced).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProjectConfig } from '../../cli/project';
import { extendModule, projectModules } from '../../services/api';
import { BUILTIN_ROLES } from '../../services/index';
import type { AnyServiceModule, ServiceDef } from '../../rpc/api';

const ACCEPTED: ReadonlyArray<{ name: string; raw: unknown; expect: Partial<ReturnType<typeof parseProjectConfig>> }> =
  [
    {
      name: 'an empty object takes every default',
      raw: {},
      expect: { idl: 'idl', gen: 'src/gen', services: [], builtins: {} },
    },
    {
      name: 'services and builtins',
      raw: { name: 'g', services: ['src/a.ts', 'dist/b.js'], builtins: { duel: false, chat: true } },
      expect: { name: 'g', services: ['src/a.ts', 'dist/b.js'], builtins: { duel: false, chat: true } },
    },
  ];

for (const c of ACCEPTED) {
  test(`project config accepted: ${c.name}`, () => {
    const parsed = parseProjectConfig(c.raw, 'noon.config.json');
    for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(parsed[k as keyof typeof parsed], v, k);
  });
}

const REFUSED: ReadonlyArray<{ name: string; raw: unknown; error: RegExp }> = [
  { name: 'not an object', raw: [], error: /noon\.config\.json: \(top\).*JSON object/ },
  { name: 'a typo in a field name', raw: { service: [] }, error: /noon\.config\.json: service.*unknown field/ },
  { name: 'services not an array', raw: { services: 'a.ts' }, error: /services.*array/ },
  { name: 'a service that is not a .ts/.js file', raw: { services: ['a.py'] }, error: /services\[0\].*\.ts or \.js/ },
  {
    name: 'an unknown built-in',
    raw: { builtins: { shop: false } },
    error: /builtins\.shop.*not a built-in service; one of sso/,
  },
  {
    name: 'a built-in switch that is not boolean',
    raw: { builtins: { duel: 'no' } },
    error: /builtins\.duel.*true or false/,
  },
  { name: 'an empty gen folder', raw: { gen: '' }, error: /gen.*non-empty string/ },
];

for (const c of REFUSED) {
  test(`project config refused: ${c.name}`, () => {
    assert.throws(() => parseProjectConfig(c.raw, 'noon.config.json'), c.error);
  });
}

const own = (role: string): AnyServiceModule => ({ role, migrations: [], build: () => ({}) as ServiceDef<unknown> });

test('projectModules: every built-in by default, the project own after them', () => {
  assert.deepEqual(
    projectModules([own('greeter')]).map((m) => m.role),
    [...BUILTIN_ROLES, 'greeter'],
  );
});

test('projectModules: a built-in switched off does not run', () => {
  assert.deepEqual(
    projectModules([], { duel: false }).map((m) => m.role),
    BUILTIN_ROLES.filter((r) => r !== 'duel'),
  );
});

test("projectModules: a project module with a built-in's role replaces it", () => {
  const mine = own('player');
  const modules = projectModules([mine]);
  assert.equal(modules.filter((m) => m.role === 'player').length, 1);
  assert.equal(
    modules.find((m) => m.role === 'player'),
    mine,
  );
});

test('extendModule replaces the named handlers, keeps the others, and may call the original', async () => {
  interface H {
    a(): string;
    b(): string;
  }
  const base = {
    role: 'x',
    migrations: [{ id: '001', sql: 'select 1' }],
    build: () => ({
      role: 'x',
      thriftService: 'X',
      processor: class {},
      stateful: false,
      handlers: { a: () => 'a', b: () => 'b' },
    }),
  } as unknown as Parameters<typeof extendModule<H>>[0];
  const ext = extendModule(base, {
    handlers: (original) => ({ b: (ctx) => `${original.b(ctx)}+` }),
    migrations: [{ id: '002', sql: 'select 2' }],
  });
  const def = await ext.build({} as never, {} as never);
  const handlers = def.handlers as unknown as { a(c: unknown): string; b(c: unknown): string };
  assert.deepEqual([handlers.a(undefined), handlers.b(undefined)], ['a', 'b+']);
  assert.deepEqual(
    ext.migrations.map((m) => m.id),
    ['001', '002'],
  );
});
