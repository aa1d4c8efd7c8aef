/** Config flags as the CLI parses them: strings validated by loadConfig, a bare yes/no flag is yes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overridesOf } from '../../cli/options';

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
