/**
 * Another commit's whole source tree under dist/ (gitignored, outside what tsc and eslint check),
 * runnable by the same child scripts: its node_modules is this checkout's (a symlink) and its
 * generated Thrift code is copied from here (the IDL must be the same). Benches use it to
 * measure "before" in the same run as "after", e.g. BENCH_BASE=<commit> for bench/broker.ts.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './procs';

export interface BaseTree {
  /** the commit as given (a short hash or a ref), for labels */
  name: string;
  sha: string;
  dir: string;
}

export function baseTree(commit: string): BaseTree {
  const sha = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${commit}^{commit}`])
    .toString()
    .trim();
  const dir = join(ROOT, 'dist', `bench-base-${sha.slice(0, 12)}`);
  if (!existsSync(join(dir, 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['-C', ROOT, 'archive', sha], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar, maxBuffer: 1 << 30 });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    cpSync(join(ROOT, 'shared', 'protocol', 'gen'), join(dir, 'shared', 'protocol', 'gen'), { recursive: true });
  }
  return { name: commit, sha, dir };
}
