/** Log lines for people: which format `auto` picks, and how one pino JSON line reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config';
import { prettyLine, resolveLogFormat } from '../../cli/log-format';

const formats: { format: string; terminal: boolean; expect: 'json' | 'pretty' }[] = [
  { format: 'auto', terminal: true, expect: 'pretty' },
  { format: 'auto', terminal: false, expect: 'json' },
  { format: 'json', terminal: true, expect: 'json' },
  { format: 'pretty', terminal: false, expect: 'pretty' },
];
for (const f of formats)
  test(`--log-format ${f.format} with ${f.terminal ? 'a terminal' : 'a pipe'} writes ${f.expect}`, () => {
    assert.equal(resolveLogFormat(f.format, f.terminal), f.expect);
  });

// 2026-12-01T15:05:26.123 in local time, whatever the machine's zone
const at = new Date(2026, 11, 1, 15, 5, 26, 123).getTime();
const plain = { color: false, stacks: false };
const lines: { what: string; entry: Record<string, unknown>; opts?: typeof plain; expect: string }[] = [
  {
    what: 'time, level, instance and message; pid and role left out',
    entry: { level: 30, time: at, pid: 7, role: 'broker', instance: 'broker-7', msg: 'listening' },
    expect: '15:05:26.123 INFO  broker-7: listening\n',
  },
  {
    what: 'the role when there is no instance; fields as key=value, strings with spaces quoted',
    entry: { level: 40, time: at, role: 'up', msg: 'role died; restarting', child: 'sso', code: 1, why: 'a b' },
    expect: '15:05:26.123 WARN  up: role died; restarting child=sso code=1 why="a b"\n',
  },
  {
    what: 'an error by its code and message, without its stack',
    entry: {
      level: 50,
      time: at,
      msg: 'failed',
      err: { type: 'Error', code: 'EADDRINUSE', message: 'in use', stack: 'Error: in use\n    at x' },
    },
    expect: '15:05:26.123 ERROR failed err="EADDRINUSE in use"\n',
  },
  {
    what: 'the stack at debug level',
    entry: { level: 50, time: at, msg: 'failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } },
    opts: { color: false, stacks: true },
    expect: '15:05:26.123 ERROR failed err=boom\nError: boom\n    at x\n',
  },
  {
    what: 'objects as JSON',
    entry: { level: 20, time: at, msg: 'beat', load: { inFlight: 2 } },
    expect: '15:05:26.123 DEBUG beat load={"inFlight":2}\n',
  },
];
for (const l of lines)
  test(`pretty line: ${l.what}`, () => {
    assert.equal(prettyLine(JSON.stringify(l.entry), l.opts ?? plain), l.expect);
  });

test('a line that is not JSON is passed through', () => {
  assert.equal(prettyLine('not json', plain), 'not json\n');
});

test('a color terminal gets the level colored', () => {
  assert.equal(
    prettyLine(JSON.stringify({ level: 30, time: at, msg: 'hi' }), { color: true, stacks: false }),
    '15:05:26.123 \x1b[32mINFO \x1b[0m hi\n',
  );
});

test('a bad NOON_LOG_FORMAT fails naming the option and the values it takes', () => {
  assert.throws(
    () => loadConfig({}, { NOON_LOG_FORMAT: 'fancy' }),
    /--log-format \/ NOON_LOG_FORMAT: "fancy" is not one of auto, json, pretty/,
  );
  assert.equal(loadConfig({}, { NOON_LOG_FORMAT: 'json' }).logFormat, 'json');
});
