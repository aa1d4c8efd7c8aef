/**
 * `noon init <dir>`: a new studio project (cli/scaffold/files.ts) in an empty or new folder. It
 * refuses to write over anything, so it can never damage an existing project.
 *
 * The project's noon dependency: `--noon <spec>` when given. Otherwise an installed noon writes
 * its own version range; a source checkout (not published under the name `noon`: that npm name is
 * someone else's) packs itself into the project's `vendor/` and writes a `file:` dependency on
 * that tarball, so `npm install` in the project works on this machine with no registry copy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '../shared/config';
import { NOON_VERSION } from '../shared/identity';
import { scaffoldFiles } from './scaffold/files';

interface NoonPackage {
  /** the folder holding noon's package.json */
  root: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** noon's own package.json (walking up from this file: the checkout, or the installed package). */
function noonPackage(): NoonPackage | undefined {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (!existsSync(p)) continue;
    const pkg = JSON.parse(readFileSync(p, 'utf8')) as Omit<NoonPackage, 'root'> & { name?: string };
    if (pkg.name === 'noon') return { ...pkg, root: dir };
  }
  return undefined;
}

/** A checkout has the TypeScript sources; an installed package has only dist/. */
const isCheckout = (pkg: NoonPackage | undefined): pkg is NoonPackage =>
  pkg !== undefined && existsSync(join(pkg.root, 'cli', 'main.ts'));

/** The environment for npm run in the checkout, without what an outer `npm run` told its scripts. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (/^npm_(package_|lifecycle_|config_local_prefix$|command$)/i.test(k) || k === 'INIT_CWD') delete env[k];
  return env;
}

/** `npm pack` of the checkout (its prepack builds dist/) into `<dir>/vendor`; the tarball's file name. */
function packCheckout(root: string, dir: string): string {
  const vendor = join(dir, 'vendor');
  mkdirSync(vendor, { recursive: true });
  try {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', vendor], {
      cwd: root,
      env: npmEnv(),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (err) {
    throw new Error(
      `noon init: npm pack of the checkout ${root} failed (${(err as Error).message}); or pass --noon <spec>`,
    );
  }
  const tgz = readdirSync(vendor).filter((f) => f.endsWith('.tgz'));
  if (tgz.length !== 1)
    throw new Error(`noon init: expected one tarball in ${vendor}, found ${tgz.join(', ') || 'none'}`);
  return tgz[0] as string;
}

export function initProject(
  dirArg: string,
  opts: { noon?: string; name?: string } = {},
): { dir: string; files: string[]; noon: string } {
  const dir = resolve(dirArg);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new ConfigError('<dir>', `${dir} is not empty`);
  const name =
    opts.name ??
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
  const pkg = noonPackage();
  const noon = opts.noon ?? (isCheckout(pkg) ? `file:vendor/${packCheckout(pkg.root, dir)}` : `^${NOON_VERSION}`);
  const files = scaffoldFiles({
    name,
    noon,
    thrift: pkg?.dependencies?.thrift ?? '^0.24.0',
    typescript: pkg?.devDependencies?.typescript ?? '^5.9.3',
    nodeTypes: pkg?.devDependencies?.['@types/node'] ?? '^20.19.0',
  });
  for (const [rel, text] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return { dir, files: Object.keys(files), noon };
}
