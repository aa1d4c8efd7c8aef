/** Config flags as the CLI parses them: strings validated by loadConfig, a bare yes/no flag is yes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { intOption, overridesOf, UsageError } from '../../cli/options';

const cases: { what: string; argv: Record<string, unknown>; expect: Record<string, unknown> }[] = [
  { what: 'a bare yes/no flag is yes', argv: { internalPlaintext: '' }, expect: { internalPlaintext: true } },
  {
    what: 'a yes/no flag given false stays false',
    argv: { internalPlaintext: 'false' },
    expect: { internalPlaintext: 'false' },
  },
  { what: 'an empty string option stays empty (not made a yes)', argv: { redis: '' }, expect: { redis: '' } },
  { what: 'a repeated flag: the last one wins', argv: { heartbeatMs: ['100', '200'] }, expect: { heartbeatMs: '200' } },
  { what: 'what is not a config option is left out', argv: { json: true, _: [] }, expect: {} },
];

for (const c of cases)
  test(c.what, () => {
    assert.deepEqual(overridesOf(c.argv), c.expect);
  });

const numbers: { what: string; raw: unknown; expect: number | RegExp }[] = [
  { what: 'a whole number', raw: '250', expect: 250 },
  { what: 'the last of a repeated flag', raw: ['1', '300'], expect: 300 },
  { what: 'text', raw: 'abc', expect: /^--interval expects a whole number of ms from 100 to 5000, got "abc"$/ },
  { what: 'a fraction', raw: '150.5', expect: /got "150\.5"/ },
  { what: 'below the minimum', raw: '5', expect: /from 100 to 5000, got "5"/ },
  { what: 'above the maximum', raw: 9000, expect: /got "9000"/ },
  { what: 'nothing after the flag', raw: '', expect: /got ""/ },
];
for (const n of numbers)
  test(`a numeric option: ${n.what}`, () => {
    const parse = intOption('interval', { min: 100, max: 5000, unit: 'of ms' });
    if (typeof n.expect === 'number') assert.equal(parse(n.raw), n.expect);
    else
      assert.throws(
        () => parse(n.raw),
        (e: Error) => e instanceof UsageError && (n.expect as RegExp).test(e.message),
      );
  });
