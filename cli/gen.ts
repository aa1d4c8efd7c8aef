/**
 * `noon gen`: TypeScript from the project's IDL (its `idl` folder) into its `gen` folder, with
 * noon's own IDL beside it so the project's files can `include "noon.thrift"` (its GameError,
 * Pong, Events). Generated code is never edited: run it again after every IDL change.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../shared/config';
import { SHARE_GAME_ERROR_TS } from '../shared/protocol/shared-game-error';
import type { Project } from './project';

/** noon's IDL folder: beside the sources in a checkout, and in the installed package. */
export function noonIdlDir(): string {
  const candidates = [join(__dirname, '..', 'shared', 'protocol'), join(__dirname, '..', '..', 'shared', 'protocol')];
  const found = candidates.find((d) => existsSync(join(d, 'noon.thrift')));
  if (!found) throw new Error(`noon's IDL (noon.thrift) is missing; looked in ${candidates.join(', ')}`);
  return found;
}

export interface Generated {
  idl: string[];
  outDir: string;
}

export function generate(project: Omit<Project, 'modules'>): Generated {
  const idlDir = resolve(project.dir, project.config.idl);
  if (!existsSync(idlDir))
    throw new ConfigError(`${project.file ?? 'noon.config.json'}: idl`, `${idlDir} does not exist`);
  const own = readdirSync(idlDir).filter((f) => f.endsWith('.thrift'));
  if (own.length === 0)
    throw new ConfigError(`${project.file ?? 'noon.config.json'}: idl`, `${idlDir} holds no .thrift file`);
  const noonDir = noonIdlDir();
  const noonFiles = readdirSync(noonDir).filter((f) => f.endsWith('.thrift'));
  for (const f of own)
    if (noonFiles.includes(f))
      throw new ConfigError(`${idlDir}/${f}`, "has the name of one of noon's own IDL files; rename it");
  // The generator resolves includes inside one source folder: stage both IDLs together.
  const staging = mkdtempSync(join(tmpdir(), 'noon-gen-'));
  const outDir = resolve(project.dir, project.config.gen);
  try {
    for (const f of own) copyFileSync(join(idlDir, f), join(staging, f));
    for (const f of noonFiles) copyFileSync(join(noonDir, f), join(staging, f));
    rmSync(outDir, { recursive: true, force: true });
    const bin = require.resolve('@creditkarma/thrift-typescript/dist/main/bin/index.js');
    const args = ['--target', 'apache', '--rootDir', staging, '--sourceDir', staging, '--outDir', outDir];
    execFileSync(process.execPath, [bin, ...args, ...own, ...noonFiles], { stdio: ['ignore', 'ignore', 'inherit'] });
    // The project's copy of GameError and noon's are one type to `instanceof` (shared-game-error.ts).
    const gameError = join(outDir, 'noon', 'GameError.ts');
    if (existsSync(gameError)) appendFileSync(gameError, SHARE_GAME_ERROR_TS);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { idl: own, outDir };
}
