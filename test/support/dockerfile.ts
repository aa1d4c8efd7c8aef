/**
 * A Dockerfile as data: its stages, each with its instructions (continuation lines joined,
 * comments dropped), and what a container of the last stage starts with (entry point, command,
 * working directory, environment, user). Enough for tests to lint the image definition and to
 * run a role the way the image would.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(file: string): Stage[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const joined: string[] = [];
  let cur = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) cur += `${line.slice(0, -1)} `;
    else {
      joined.push(cur + line);
      cur = '';
    }
  }
  const stages: Stage[] = [];
  for (const text of joined) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(text);
    if (!m) throw new Error(`${file}: cannot read ${JSON.stringify(text)}`);
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`${file}: FROM ${args}`);
      stages.push({ from: f[1] as string, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`${file}: ${op} before FROM`);
      stage.instructions.push({ op, args });
    }
  }
  return stages;
}

/** An exec-form argument list (`["a", "b"]`); a shell-form string is refused. */
export function execForm(args: string): string[] {
  const v: unknown = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`not exec form: ${args}`);
  return v;
}

/** `ENV A=1 B=2` pairs (values without spaces, optionally double-quoted). */
export function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g))
    out[m[1] as string] = m[3] ?? (m[2] as string);
  return out;
}

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
}

/** What a container of the final stage starts with (the last ENTRYPOINT/CMD/USER/WORKDIR wins). */
export function imageConfig(stages: Stage[]): ImageConfig {
  const last = stages[stages.length - 1];
  if (!last) throw new Error('no stage');
  const cfg: ImageConfig = { entrypoint: [], cmd: [], workdir: '/', env: {}, user: undefined };
  for (const i of last.instructions) {
    if (i.op === 'ENTRYPOINT') cfg.entrypoint = execForm(i.args);
    else if (i.op === 'CMD') cfg.cmd = execForm(i.args);
    else if (i.op === 'WORKDIR') cfg.workdir = i.args;
    else if (i.op === 'ENV') Object.assign(cfg.env, envPairs(i.args));
    else if (i.op === 'USER') cfg.user = i.args;
  }
  return cfg;
}
