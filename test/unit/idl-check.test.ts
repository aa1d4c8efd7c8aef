/**
 * Spec of cli/idl-check.ts: which IDL changes break a client or service still on the released
 * IDL (each kind of breaking change is one fixture, named exactly), which pass (additions), and
 * the snapshot/compare of whole folders as `noon idl:check` and `noon idl:release` run them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakingChanges, checkIdl, cutRelease } from '../../cli/idl-check';
import { parseIdl } from '../../shared/thrift/idl-model';

const RELEASED = `
namespace js game
typedef i64 Coins

enum Color {
  RED = 1,
  GREEN = 2,
}

enum Auto {
  A,
  B,
}

exception Oops {
  1: i32 code,
  2: string message,
}

struct Item {
  1: string id,
  2: Coins price,
  3: optional list<string> tags,
  4: required string owner,
}

struct Bag {
  1: list<Item> items,
  2: map<string, Color> colors,
}

service Shop {
  Item buy(1: string id, 2: i32 count) throws (1: Oops oops),
  void forget(1: string id),
  oneway void poke(1: string why),
}

service Other {
  i32 ping(),
}
`;

/** `RELEASED` with `from` replaced by `to` (which must occur exactly once). */
function edit(from: string, to: string): string {
  assert.equal(RELEASED.split(from).length, 2, `fixture edit: ${from} occurs once`);
  return RELEASED.replace(from, to);
}

const breaking: { kind: string; idl: string; expect: string[] }[] = [
  { kind: 'a field removed', idl: edit('  2: Coins price,\n', ''), expect: ['struct Item: field price (2) removed'] },
  {
    kind: 'a field renumbered',
    idl: edit('  2: Coins price,', '  7: Coins price,'),
    expect: ['struct Item: field price (2) renumbered to 7'],
  },
  {
    kind: 'a field retyped',
    idl: edit('  2: Coins price,', '  2: i32 price,'),
    expect: ['struct Item: field price (2) retyped from i64 to i32'],
  },
  {
    kind: 'a container field retyped inside',
    idl: edit('map<string, Color> colors', 'map<string, i32> colors'),
    expect: ['struct Bag: field colors (2) retyped from map<string,Color> to map<string,i32>'],
  },
  {
    kind: 'a field made required',
    idl: edit('  1: string id,\n  2: Coins', '  1: required string id,\n  2: Coins'),
    expect: ['struct Item: field id (1) made required'],
  },
  {
    kind: 'a required field added',
    idl: edit('  4: required string owner,', '  4: required string owner,\n  5: required i32 stock,'),
    expect: ['struct Item: field stock (5) added as required (older writers do not send it)'],
  },
  {
    kind: 'a required field made optional',
    idl: edit('  4: required string owner,', '  4: optional string owner,'),
    expect: ['struct Item: field owner (4) is no longer required (older readers refuse a message without it)'],
  },
  {
    kind: 'a struct removed',
    idl: edit('struct Bag {\n  1: list<Item> items,\n  2: map<string, Color> colors,\n}\n', ''),
    expect: ['struct Bag removed'],
  },
  {
    kind: 'a struct became an exception',
    idl: edit('struct Bag {', 'exception Bag {'),
    expect: ['struct Bag became an exception'],
  },
  {
    kind: 'an exception field removed',
    idl: edit('  2: string message,\n', ''),
    expect: ['exception Oops: field message (2) removed'],
  },
  { kind: 'an enum value removed', idl: edit('  GREEN = 2,\n', ''), expect: ['enum Color: GREEN (2) removed'] },
  {
    kind: 'an enum value renumbered',
    idl: edit('  GREEN = 2,', '  GREEN = 3,'),
    expect: ['enum Color: GREEN renumbered from 2 to 3'],
  },
  {
    kind: 'an implicit enum value renumbered by an insertion before it',
    idl: edit('  A,\n  B,', '  Z,\n  A,\n  B,'),
    expect: ['enum Auto: A renumbered from 0 to 1', 'enum Auto: B renumbered from 1 to 2'],
  },
  {
    kind: 'an enum removed',
    idl: edit('enum Auto {\n  A,\n  B,\n}\n', ''),
    expect: ['enum Auto removed'],
  },
  {
    kind: 'a service removed',
    idl: edit('service Other {\n  i32 ping(),\n}\n', ''),
    expect: ['service Other removed'],
  },
  { kind: 'a method removed', idl: edit('  void forget(1: string id),\n', ''), expect: ['method Shop.forget removed'] },
  {
    kind: "a method's return type changed",
    idl: edit('  Item buy(', '  Bag buy('),
    expect: ['method Shop.buy returns Bag instead of Item'],
  },
  {
    kind: 'a method argument removed',
    idl: edit('buy(1: string id, 2: i32 count)', 'buy(1: string id)'),
    expect: ['method Shop.buy: argument count (2) removed'],
  },
  {
    kind: 'a method argument retyped',
    idl: edit('2: i32 count)', '2: i64 count)'),
    expect: ['method Shop.buy: argument count (2) retyped from i32 to i64'],
  },
  {
    kind: 'a method argument renumbered',
    idl: edit('2: i32 count)', '3: i32 count)'),
    expect: ['method Shop.buy: argument count (2) renumbered to 3'],
  },
  {
    kind: 'a method argument made required',
    idl: edit('2: i32 count)', '2: required i32 count)'),
    expect: ['method Shop.buy: argument count (2) made required'],
  },
  {
    kind: "a method's exception removed",
    idl: edit(' throws (1: Oops oops)', ''),
    expect: ['method Shop.buy: exception oops (1) removed'],
  },
  {
    kind: 'a oneway method made two-way',
    idl: edit('  oneway void poke(', '  void poke('),
    expect: ['method Shop.poke is no longer oneway'],
  },
];

const compatible: { kind: string; idl: string }[] = [
  { kind: 'the same IDL', idl: RELEASED },
  {
    kind: 'a new optional field',
    idl: edit('  4: required string owner,', '  4: required string owner,\n  5: optional i32 stock,'),
  },
  {
    kind: 'a new default field',
    idl: edit('  4: required string owner,', '  4: required string owner,\n  5: i32 stock,'),
  },
  { kind: 'a new method', idl: edit('  void forget(1: string id),', '  void forget(1: string id),\n  Bag bag(),') },
  { kind: 'a new optional argument', idl: edit('2: i32 count)', '2: i32 count, 3: optional string coupon)') },
  {
    kind: 'a new exception on a method',
    idl: edit('  void forget(1: string id),', '  void forget(1: string id) throws (1: Oops oops),'),
  },
  { kind: 'a new struct', idl: `${RELEASED}\nstruct Gift {\n  1: string note,\n}\n` },
  { kind: 'a new enum value', idl: edit('  GREEN = 2,', '  GREEN = 2,\n  BLUE = 3,') },
  { kind: 'a new service', idl: `${RELEASED}\nservice Third {\n  void hello(),\n}\n` },
  { kind: 'a field renamed under its id', idl: edit('  2: Coins price,', '  2: Coins cost,') },
  { kind: 'an enum value renamed under its number', idl: edit('  GREEN = 2,', '  LIME = 2,') },
  { kind: 'a typedef spelled out (the same wire type)', idl: edit('  2: Coins price,', '  2: i64 price,') },
  {
    kind: 'comments and order',
    idl: `// moved\n${RELEASED.replace('service Other {\n  i32 ping(),\n}\n', '')}\nservice Other {\n  i32 ping(), // still\n}\n`,
  },
];

describe('idl:check breaking changes (one fixture per kind)', () => {
  const released = parseIdl(RELEASED, 'released.thrift');
  for (const c of breaking) {
    test(c.kind, () => {
      assert.deepEqual(breakingChanges(released, parseIdl(c.idl, 'current.thrift')), c.expect);
    });
  }
});

describe('idl:check passes compatible changes', () => {
  const released = parseIdl(RELEASED, 'released.thrift');
  for (const c of compatible) {
    test(c.kind, () => {
      assert.deepEqual(breakingChanges(released, parseIdl(c.idl, 'current.thrift')), []);
    });
  }
});

describe('idl:check on folders', () => {
  const withDirs = (fn: (idl: string, released: string) => void): void => {
    const dir = mkdtempSync(join(tmpdir(), 'noon-idl-'));
    try {
      fn(dir, join(dir, 'released'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('idl:release copies every IDL file; the check then passes, and names each breaking change by file', () => {
    withDirs((idl, released) => {
      writeFileSync(join(idl, 'game.thrift'), RELEASED);
      writeFileSync(join(idl, 'extra.thrift'), 'struct E {\n  1: i32 a,\n}\n');
      assert.deepEqual(cutRelease(idl, released), ['extra.thrift', 'game.thrift']);
      assert.equal(readFileSync(join(released, 'game.thrift'), 'utf8'), RELEASED);
      assert.deepEqual(checkIdl(idl, released), { files: ['extra.thrift', 'game.thrift'], breaking: [] });
      writeFileSync(join(idl, 'game.thrift'), edit('  GREEN = 2,\n', ''));
      rmSync(join(idl, 'extra.thrift'));
      assert.deepEqual(checkIdl(idl, released).breaking, [
        'extra.thrift: removed (it was released)',
        'game.thrift: enum Color: GREEN (2) removed',
      ]);
    });
  });

  test('a folder without a release, and unparseable IDL, are refused with the path', () => {
    withDirs((idl, released) => {
      writeFileSync(join(idl, 'game.thrift'), RELEASED);
      assert.throws(() => checkIdl(idl, released), /released: holds no released IDL \(\.thrift\): cut one/);
      writeFileSync(join(idl, 'game.thrift'), 'struct {');
      assert.throws(() => cutRelease(idl, released), /game\.thrift: line 1/);
      writeFileSync(join(idl, 'game.thrift'), 'struct S {\n  string noId,\n}\n');
      assert.throws(() => cutRelease(idl, released), /game\.thrift: S\.noId has no field id \(line 2\)/);
    });
  });

  test("noon's own IDL has no breaking change since its last release (npm run idl:check)", () => {
    const root = join(__dirname, '..', '..');
    const out = execFileSync(
      process.execPath,
      [join(root, 'bin', 'noon.js'), 'idl:check', '--idl', 'shared/protocol'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    assert.match(out, /^noon idl:check: no breaking change since noon\.thrift as released in /);
  });
});
