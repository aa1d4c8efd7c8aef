// glibc's allocator settings the supervisor gives the role processes it starts (cli/allocator-env.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOCATOR_ENV, withAllocatorEnv } from '../../cli/allocator-env';

const CASES: Array<[why: string, env: NodeJS.ProcessEnv, want: NodeJS.ProcessEnv]> = [
  ['nothing set: both thresholds at 128 KiB', { PATH: '/bin' }, { PATH: '/bin', ...ALLOCATOR_ENV }],
  [
    'an operator threshold is kept, and nothing added',
    { MALLOC_TRIM_THRESHOLD_: '0' },
    { MALLOC_TRIM_THRESHOLD_: '0' },
  ],
  ['any malloc tuning of their own wins', { MALLOC_ARENA_MAX: '2' }, { MALLOC_ARENA_MAX: '2' }],
];

for (const [why, env, want] of CASES)
  test(why, () => {
    assert.deepEqual(withAllocatorEnv(env), want);
  });

test('the thresholds are 128 KiB, the value that turns off glibc raising them', () => {
  assert.deepEqual(ALLOCATOR_ENV, { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' });
});
