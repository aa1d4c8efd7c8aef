/**
 * An exclusive lock on a data directory between processes: a file `<dir>.lock` created with
 * O_EXCL holding the owner's pid. PGlite is one Postgres inside one process; a second process
 * opening the same files would corrupt them, so it fails at start naming the lock and the pid
 * that holds it. A lock whose pid is gone (a crash, a SIGKILL) is taken over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

export class DirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly lockFile: string,
    readonly pid: number,
  ) {
    super(
      `PGlite directory ${dir} is locked by pid ${pid} (lock file ${lockFile}): another noon process (noon up, noon start …) has it open; stop that one, or give this one its own --data-dir, or share a Postgres with --pg-url`,
    );
    this.name = 'DirLockedError';
  }
}

/** Locks held by this process: a second open in the same process is refused too. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock on `dir` or throws DirLockedError; returns its release. */
export function lockDir(dir: string): () => void {
  const file = `${dir}.lock`;
  if (held.has(file)) throw new DirLockedError(dir, file, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = ownerOf(file);
      if (pid !== undefined && pid !== process.pid && alive(pid)) throw new DirLockedError(dir, file, pid);
      // stale: its owner is gone (or it is unreadable half-written garbage of a crash)
      unlinkSync(file);
    }
  }
  held.add(file);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.delete(file);
    if (ownerOf(file) === process.pid) unlinkSync(file);
  };
}
