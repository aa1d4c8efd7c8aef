/**
 * The console page's files, all read once at start and served from memory: its HTML and CSS, its
 * script, and uPlot (the charts) from the installed `uplot` package. The script is compiled: in a
 * built package it is `page/app.js` beside this file (scripts/build.js makes it); in a source
 * checkout `page/app.ts` is compiled here with esbuild, a development dependency. Nothing is
 * fetched from the network, by the server or by the page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Esbuild from 'esbuild';

export interface Asset {
  type: string;
  body: Buffer;
}

const PAGE_DIR = join(__dirname, 'page');

async function compiledScript(): Promise<Buffer> {
  const built = join(PAGE_DIR, 'app.js');
  if (existsSync(built)) return readFileSync(built);
  const source = join(PAGE_DIR, 'app.ts');
  if (!existsSync(source)) throw new Error(`the console's script is missing: neither ${built} nor ${source} exists`);
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error(
      `the console's script is not compiled (${built}) and esbuild is not installed to compile ${source}: run npm run build`,
    );
  }
  return Buffer.from(compilePageScript(esbuild, source));
}

/** The page's script as the browser loads it: one ES2020 file, no imports left. */
export function compilePageScript(esbuild: typeof Esbuild, source: string): string {
  const out = esbuild.buildSync({
    entryPoints: [source],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    logLevel: 'silent',
  });
  return (out.outputFiles[0] as { text: string }).text;
}

/** Every path the page loads, by URL path. */
export async function loadAssets(): Promise<Map<string, Asset>> {
  const uplot = (file: string): Buffer => readFileSync(require.resolve(`uplot/dist/${file}`));
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: readFileSync(join(PAGE_DIR, 'index.html')) }],
    ['/assets/console.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(PAGE_DIR, 'console.css')) }],
    ['/assets/console.js', { type: 'text/javascript; charset=utf-8', body: await compiledScript() }],
    ['/assets/uPlot.iife.min.js', { type: 'text/javascript; charset=utf-8', body: uplot('uPlot.iife.min.js') }],
    ['/assets/uPlot.min.css', { type: 'text/css; charset=utf-8', body: uplot('uPlot.min.css') }],
  ]);
}
