/** The lock on a PGlite directory: one process at a time, naming the holder; a dead holder's lock is taken over. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirLockedError, lockDir } from '../../shared/data/dir-lock';

function withDir(fn: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'noon-lock-'));
    try {
      await fn(join(root, 'pglite'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

test(
  'a lock holds our pid and is gone after release',
  withDir((dir) => {
    const release = lockDir(dir);
    assert.equal(readFileSync(`${dir}.lock`, 'utf8').trim(), String(process.pid));
    release();
    assert.equal(existsSync(`${dir}.lock`), false);
    lockDir(dir)();
  }),
);

test(
  'a second open in the same process is refused',
  withDir((dir) => {
    const release = lockDir(dir);
    assert.throws(() => lockDir(dir), DirLockedError);
    release();
  }),
);

test(
  "another live process's lock is refused, naming the lock file and its pid",
  withDir(async (dir) => {
    const other = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      writeFileSync(`${dir}.lock`, `${other.pid}\n`);
      assert.throws(
        () => lockDir(dir),
        (e: Error) =>
          e instanceof DirLockedError && e.message.includes(`${dir}.lock`) && e.message.includes(`pid ${other.pid}`),
      );
    } finally {
      other.stdin?.end();
      await new Promise((resolve) => other.once('exit', resolve));
    }
    // its owner gone (exited, or SIGKILLed without a chance to clean up): the lock is taken over
    const release = lockDir(dir);
    assert.equal(readFileSync(`${dir}.lock`, 'utf8').trim(), String(process.pid));
    release();
  }),
);
