/**
 * A load-test scenario: how many simulated players, how they arrive, how long they play, and what
 * they do. Read from JSON and validated field by field; every error names the field
 * (`mix.playRound: expected a number >= 0`), so a typo never silently becomes a default.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_RULES, type GameRules } from './progression';

export const ACTIONS = [
  'playRound',
  'levelUp',
  'evolve',
  'buyCurrency',
  'spendCurrency',
  'getProfile',
  'chatSay',
  'duel',
  'leaderboardTop',
] as const;
export type ActionName = (typeof ACTIONS)[number];

export interface Scenario {
  name: string;
  players: number;
  /** players start evenly spread over this many seconds */
  rampUpSeconds: number;
  /** the run ends after this many seconds from the first player's start … */
  durationSeconds?: number;
  /** … or after this many actions in total, whichever comes first (at least one is set) */
  maxActions?: number;
  thinkTimeMs: { min: number; max: number };
  /** relative weights; an action with weight 0 is never picked; at least one weight > 0 */
  mix: Record<ActionName, number>;
  /** signInConcurrency: sign-ins in flight at once (password hashing is slow on purpose) */
  accounts: { mode: 'register' | 'login'; prefix: string; password: string; signInConcurrency: number };
  chat: { rooms: number };
  duel: { stake: number; matchWaitMs: number };
  leaderboard: { board: string; count: number };
  /** deadline of each call, ms (the SDK's callTimeoutMs) */
  callTimeoutMs: number;
  /** the game's unit rules the players follow (loadtest/progression.ts); default: the built-in game's */
  rules: GameRules;
}

export class ScenarioError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`scenario ${field}: ${message}`);
    this.name = 'ScenarioError';
  }
}

type Obj = Record<string, unknown>;

const LIMITS = { players: 100_000, seconds: 86_400, actions: 1e9, thinkMs: 600_000 } as const;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(
  o: Obj,
  key: string,
  field: string,
  opts: { min: number; max: number; int?: boolean; def?: number },
): number {
  const v = o[key];
  if (v === undefined && opts.def !== undefined) return opts.def;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ScenarioError(field, `expected a number, got ${JSON.stringify(v)}`);
  if (opts.int && !Number.isInteger(v)) throw new ScenarioError(field, `expected an integer, got ${v}`);
  if (v < opts.min || v > opts.max) throw new ScenarioError(field, `${v} is outside ${opts.min}..${opts.max}`);
  return v;
}

function str(o: Obj, key: string, field: string, re: RegExp, def: string): string {
  const v = o[key] ?? def;
  if (typeof v !== 'string' || !re.test(v))
    throw new ScenarioError(field, `expected a string matching ${re}, got ${JSON.stringify(v)}`);
  return v;
}

function sub(o: Obj, key: string): Obj {
  const v = o[key] ?? {};
  if (!isObj(v)) throw new ScenarioError(key, 'expected an object');
  return v;
}

function unknownKeys(o: Obj, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new ScenarioError(`${prefix}${k}`, `unknown field (known: ${allowed.join(', ')})`);
}

function parseMix(o: Obj): Record<ActionName, number> {
  const m = sub(o, 'mix');
  unknownKeys(m, ACTIONS, 'mix.');
  const mix = {} as Record<ActionName, number>;
  for (const a of ACTIONS) mix[a] = num(m, a, `mix.${a}`, { min: 0, max: 1e6, def: 0 });
  if (ACTIONS.every((a) => mix[a] === 0)) throw new ScenarioError('mix', 'at least one action needs a weight > 0');
  return mix;
}

function parseThink(o: Obj): { min: number; max: number } {
  const t = sub(o, 'thinkTimeMs');
  unknownKeys(t, ['min', 'max'], 'thinkTimeMs.');
  const min = num(t, 'min', 'thinkTimeMs.min', { min: 0, max: LIMITS.thinkMs, def: 500 });
  const max = num(t, 'max', 'thinkTimeMs.max', { min: 0, max: LIMITS.thinkMs, def: Math.max(min, 1500) });
  if (max < min) throw new ScenarioError('thinkTimeMs.max', `${max} is below thinkTimeMs.min ${min}`);
  return { min, max };
}

function parseAccounts(o: Obj): Scenario['accounts'] {
  const a = sub(o, 'accounts');
  unknownKeys(a, ['mode', 'prefix', 'password', 'signInConcurrency'], 'accounts.');
  const mode = a.mode ?? 'register';
  if (mode !== 'register' && mode !== 'login')
    throw new ScenarioError('accounts.mode', `expected "register" or "login", got ${JSON.stringify(mode)}`);
  return {
    mode,
    prefix: str(a, 'prefix', 'accounts.prefix', /^[a-z][a-z0-9_]{0,15}$/, 'lt'),
    password: str(a, 'password', 'accounts.password', /^.{8,64}$/, 'loadtest-pw-123'),
    signInConcurrency: num(a, 'signInConcurrency', 'accounts.signInConcurrency', {
      min: 1,
      max: 10_000,
      int: true,
      def: 2,
    }),
  };
}

/** Validates a parsed JSON value; throws ScenarioError naming the first bad field. */
export function parseScenario(raw: unknown): Scenario {
  if (!isObj(raw)) throw new ScenarioError('(root)', 'expected a JSON object');
  unknownKeys(
    raw,
    [
      'name',
      'players',
      'rampUpSeconds',
      'durationSeconds',
      'maxActions',
      'thinkTimeMs',
      'mix',
      'accounts',
      'chat',
      'duel',
      'leaderboard',
      'callTimeoutMs',
      'rules',
      '$comment',
    ],
    '',
  );
  const durationSeconds =
    raw.durationSeconds === undefined
      ? undefined
      : num(raw, 'durationSeconds', 'durationSeconds', { min: 1, max: LIMITS.seconds });
  const maxActions =
    raw.maxActions === undefined
      ? undefined
      : num(raw, 'maxActions', 'maxActions', { min: 1, max: LIMITS.actions, int: true });
  if (durationSeconds === undefined && maxActions === undefined)
    throw new ScenarioError('durationSeconds', 'set durationSeconds or maxActions (or both)');
  const chat = sub(raw, 'chat');
  unknownKeys(chat, ['rooms'], 'chat.');
  const duel = sub(raw, 'duel');
  unknownKeys(duel, ['stake', 'matchWaitMs'], 'duel.');
  const lb = sub(raw, 'leaderboard');
  unknownKeys(lb, ['board', 'count'], 'leaderboard.');
  const rules = sub(raw, 'rules');
  unknownKeys(rules, Object.keys(DEFAULT_RULES), 'rules.');
  const rule = (key: keyof GameRules, min: number): number =>
    num(rules, key, `rules.${key}`, { min, max: 1e9, int: true, def: DEFAULT_RULES[key] });
  return {
    name: str(raw, 'name', 'name', /^.{1,80}$/, 'unnamed'),
    players: num(raw, 'players', 'players', { min: 1, max: LIMITS.players, int: true }),
    rampUpSeconds: num(raw, 'rampUpSeconds', 'rampUpSeconds', { min: 0, max: LIMITS.seconds, def: 0 }),
    ...(durationSeconds !== undefined && { durationSeconds }),
    ...(maxActions !== undefined && { maxActions }),
    thinkTimeMs: parseThink(raw),
    mix: parseMix(raw),
    accounts: parseAccounts(raw),
    chat: { rooms: num(chat, 'rooms', 'chat.rooms', { min: 1, max: 10_000, int: true, def: 10 }) },
    duel: {
      stake: num(duel, 'stake', 'duel.stake', { min: 0, max: 1_000_000, int: true, def: 0 }),
      matchWaitMs: num(duel, 'matchWaitMs', 'duel.matchWaitMs', { min: 0, max: 60_000, int: true, def: 2000 }),
    },
    leaderboard: {
      board: str(lb, 'board', 'leaderboard.board', /^[A-Za-z0-9_.:-]{1,64}$/, 'duels'),
      count: num(lb, 'count', 'leaderboard.count', { min: 1, max: 100, int: true, def: 10 }),
    },
    callTimeoutMs: num(raw, 'callTimeoutMs', 'callTimeoutMs', { min: 10, max: 600_000, int: true, def: 5000 }),
    rules: {
      levelsPerStar: rule('levelsPerStar', 1),
      maxLevel: rule('maxLevel', 1),
      maxStars: rule('maxStars', 1),
      levelUpSoftPerLevel: rule('levelUpSoftPerLevel', 0),
      evolveSoftPerStar: rule('evolveSoftPerStar', 0),
      evolveHardPerStar: rule('evolveHardPerStar', 0),
    },
  };
}

/** Reads and validates a scenario file; a JSON syntax error names the file. */
export function loadScenario(path: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScenarioError('(file)', `${path}: ${(err as Error).message}`);
  }
  return parseScenario(raw);
}

/** Command-line overrides (players, duration) applied over a scenario, validated the same way. */
export function withOverrides(
  s: Scenario,
  o: { players?: number; durationSeconds?: number; maxActions?: number },
): Scenario {
  const merged: Obj = { ...s };
  if (o.players !== undefined) merged.players = o.players;
  if (o.durationSeconds !== undefined) merged.durationSeconds = o.durationSeconds;
  if (o.maxActions !== undefined) merged.maxActions = o.maxActions;
  return parseScenario(merged);
}

/** Picks an action by weight; `r` is uniform in [0, 1). */
export function pickAction(mix: Record<ActionName, number>, r: number): ActionName {
  let total = 0;
  for (const a of ACTIONS) total += mix[a];
  let x = r * total;
  for (const a of ACTIONS) {
    if (mix[a] <= 0) continue;
    if (x < mix[a]) return a;
    x -= mix[a];
  }
  // r close to 1 with rounding: the last action with a weight
  return [...ACTIONS].reverse().find((a) => mix[a] > 0) ?? 'getProfile';
}
