/**
 * Spec of the filter language (shared/query): what a query matches, what it selects, and the
 * error (with its position) for each way a query can be wrong.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileQuery, likeToRegExp, parseQuery, QueryError, type Schema } from '../../shared/query';

const CALLS: Schema = {
  sources: ['calls'],
  fields: {
    method: 'string',
    user: 'string',
    outcome: 'string',
    latency_ms: 'number',
    request_bytes: 'number',
    retried: 'boolean',
  },
};

const ROWS = [
  { method: 'Player:getWallet', user: 'u1', outcome: 'ok', latency_ms: 3, request_bytes: 40, retried: false },
  { method: 'Player:buyCurrency', user: 'u2', outcome: 'ok', latency_ms: 80, request_bytes: 900, retried: true },
  { method: 'Duel:act', user: 'u1', outcome: 'CONFLICT', latency_ms: 51, request_bytes: 30, retried: false },
  { method: 'Sso:login', user: 'u3', outcome: 'UNAUTHENTICATED', latency_ms: 120, request_bytes: 60, retried: false },
];

/** Which of ROWS (by index) the query matches. */
const matching = (text: string, schema: Schema = CALLS): number[] => {
  const q = compileQuery(parseQuery(text, schema));
  return ROWS.flatMap((r, i) => (q.matches(r) ? [i] : []));
};

describe('which calls a query matches', () => {
  const cases: Array<[string, number[]]> = [
    ['', [0, 1, 2, 3]],
    ['SELECT * FROM calls', [0, 1, 2, 3]],
    ["SELECT method FROM calls WHERE method LIKE 'Player:%'", [0, 1]],
    ["WHERE method LIKE 'Player:%' AND latency_ms > 50", [1]],
    ["method LIKE 'Player:%' OR latency_ms >= 120", [0, 1, 3]],
    ["method NOT LIKE 'Player:%'", [2, 3]],
    ["method LIKE 'Duel:a_t'", [2]],
    ["method LIKE 'player:%'", []],
    ["outcome != 'ok'", [2, 3]],
    ["outcome <> 'ok'", [2, 3]],
    ["outcome IN ('CONFLICT', 'UNAUTHENTICATED')", [2, 3]],
    ["user NOT IN ('u1')", [1, 3]],
    ['latency_ms <= 51 AND latency_ms >= 51', [2]],
    ['retried = true', [1]],
    ['retried = FALSE AND request_bytes < 50', [0, 2]],
    ["NOT (method LIKE 'Player:%' OR outcome = 'ok')", [2, 3]],
    ["(user = 'u1' OR user = 'u2') AND latency_ms > 10", [1, 2]],
    ["user = 'u1' OR user = 'u2' AND latency_ms > 10", [0, 1, 2]],
    ['latency_ms > -1', [0, 1, 2, 3]],
    ['latency_ms > 50.5', [1, 2, 3]],
  ];
  for (const [text, expected] of cases)
    test(text || '(empty: everything)', () => assert.deepEqual(matching(text), expected));
});

describe('missing fields and other types are unknown, and unknown never matches', () => {
  const open: Schema = {};
  const rows = [{ level: 12, region: 'eu' }, { region: 'eu' }, { level: '12', region: 'us' }, { level: 5n }];
  const cases: Array<[string, number[]]> = [
    ['level >= 10', [0]],
    ['NOT level >= 10', [3]],
    ["level >= 10 OR region = 'eu'", [0, 1]],
    ['level IS NULL', [1]],
    ['level IS NOT NULL', [0, 2, 3]],
    ['level IN (5, 12)', [0, 3]],
    ["region LIKE 'e%' AND level < 100", [0]],
  ];
  for (const [text, expected] of cases)
    test(text, () => {
      const q = compileQuery(parseQuery(text, open));
      assert.deepEqual(
        rows.flatMap((r, i) => (q.matches(r) ? [i] : [])),
        expected,
      );
    });

  test('a field named like an Object property is read only from the record itself', () => {
    const q = compileQuery(parseQuery('constructor IS NULL AND toString IS NULL AND __proto__ IS NULL', open));
    assert.equal(q.matches({}), true);
  });
});

describe('what a query selects', () => {
  test('the named fields, in order, missing ones undefined', () => {
    const q = compileQuery(parseQuery('SELECT latency_ms, method FROM calls', CALLS));
    assert.deepEqual(q.project(ROWS[1] as object as Record<string, unknown>), {
      latency_ms: 80,
      method: 'Player:buyCurrency',
    });
    assert.deepEqual(compileQuery(parseQuery('SELECT user FROM calls', CALLS)).project({}), { user: undefined });
  });
  test('* and a bare filter keep every field', () => {
    for (const text of ['SELECT * FROM calls', "method = 'x'"])
      assert.deepEqual(compileQuery(parseQuery(text, CALLS)).project({ method: 'x', user: 'u' }), {
        method: 'x',
        user: 'u',
      });
  });
  test('keywords are case-insensitive, field names are not', () => {
    assert.deepEqual(parseQuery("select method from calls where method like 'a%'", CALLS).select, ['method']);
    assert.throws(() => parseQuery('Method = 1', CALLS), /unknown field 'Method'/);
  });
});

describe('a wrong query is refused, naming what is wrong and where', () => {
  const cases: Array<[string, RegExp, number]> = [
    ['SELECT method FROM packets', /unknown source 'packets'; this query can read calls/, 19],
    ['SELECT methd FROM calls', /unknown field 'methd'; the fields are method, user/, 7],
    ["method = 'a", /string is not closed/, 9],
    ["method = 'a' AND", /expected a field name, found the end of the query/, 16],
    ["method == 'a'", /expected a value .*, found '='/, 8],
    ['latency_ms > 5 latency_ms', /expected AND, OR or the end of the query, found 'latency_ms'/, 15],
    ["latency_ms > 'slow'", /'latency_ms' is a number, so this value \(a string\) cannot match it/, 13],
    ['method LIKE 5', /'method'|quoted pattern/, 12],
    ["latency_ms LIKE '5%'", /'latency_ms' is a number, so LIKE \(a string\) cannot match it/, 0],
    ['retried > true', /does not order true and false/, 8],
    ["(method = 'a'", /expected '\)' to close the parenthesis/, 13],
    ["method NOT = 'a'", /expected LIKE or IN after NOT/, 11],
    ['method ~ 1', /unexpected character "~"/, 7],
    ['SELECT FROM calls', /expected a field name, found 'FROM'/, 7],
    ['SELECT method calls', /expected FROM after the selected fields, found 'calls'/, 14],
    ['method IS nothing', /expected NULL after IS, found 'nothing'/, 10],
    ['latency_ms > 1.2.3', /'1.2.3' is not a number/, 13],
  ];
  for (const [text, reason, position] of cases)
    test(text, () => {
      assert.throws(
        () => parseQuery(text, CALLS),
        (e: unknown) => {
          assert.ok(e instanceof QueryError, String(e));
          assert.match(e.message, reason);
          assert.equal(e.position, position, e.message);
          assert.match(e.message, new RegExp(`at character ${position + 1}\\)$`));
          return true;
        },
      );
    });

  test('the caret points at the offending character', () => {
    const text = 'SELECT methd FROM calls';
    try {
      parseQuery(text, CALLS);
      assert.fail('parsed');
    } catch (e) {
      assert.ok(e instanceof QueryError);
      assert.equal(e.pointAt(text).split('\n')[1]?.indexOf('^'), 7);
    }
  });

  test('a filter is bounded: length, depth and number of tests', () => {
    assert.throws(() => parseQuery(`method = '${'x'.repeat(3000)}'`, CALLS), /at most 2000 are allowed/);
    assert.throws(() => parseQuery(`${'('.repeat(40)}retried = true${')'.repeat(40)}`, CALLS), /nests deeper than 16/);
    assert.throws(() => parseQuery(`${'NOT '.repeat(40)}retried = true`, CALLS), /nests deeper than 16/);
    const many = Array.from({ length: 65 }, (_, i) => `latency_ms > ${i}`).join(' OR ');
    assert.throws(() => parseQuery(many, CALLS), /more than 64 tests/);
  });
});

test('LIKE escapes every character of the pattern but % and _', () => {
  const re = likeToRegExp('a.b*c(d)[e]$^\\%_');
  assert.equal(re.test('a.b*c(d)[e]$^\\anything!'), true);
  assert.equal(re.test('aXb*c(d)[e]$^\\anything!'), false);
  assert.equal(likeToRegExp('%').test('multi\nline'), true);
});
