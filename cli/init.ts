/**
 * `noon init <dir>`: a new studio project (cli/scaffold/files.ts) in an empty or new folder. It
 * refuses to write over anything, so it can never damage an existing project.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '../shared/config';
import { NOON_VERSION } from '../shared/identity';
import { scaffoldFiles } from './scaffold/files';

/** noon's own package.json (walking up from this file: the checkout, or the installed package). */
function noonPackage(): { dependencies?: Record<string, string> } {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (!existsSync(p)) continue;
    const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; dependencies?: Record<string, string> };
    if (pkg.name === 'noon') return pkg;
  }
  return {};
}

export function initProject(
  dirArg: string,
  opts: { noon?: string; name?: string } = {},
): { dir: string; files: string[] } {
  const dir = resolve(dirArg);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new ConfigError('<dir>', `${dir} is not empty`);
  const name =
    opts.name ??
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
  const files = scaffoldFiles({
    name,
    noon: opts.noon ?? `^${NOON_VERSION}`,
    thrift: noonPackage().dependencies?.thrift ?? '^0.24.0',
  });
  for (const [rel, text] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return { dir, files: Object.keys(files) };
}
