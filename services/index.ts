/**
 * Every game service module, in start order (sso first: others may call it; player before duel,
 * which settles stakes through it). `noon up`, `noon start <role>` and `noon migrate` use this list.
 */
import type { AnyServiceModule } from '../rpc/api';
import { channelsModule } from './channels';
import { chatModule } from './chat';
import { duelModule } from './duel';
import { leaderboardModule } from './leaderboard';
import { playerModule } from './player/module';
import { ssoModule } from './sso/module';

export const BUILTIN_MODULES: readonly AnyServiceModule[] = [
  ssoModule,
  playerModule,
  leaderboardModule,
  duelModule,
  chatModule,
  channelsModule,
];

export const BUILTIN_ROLES: readonly string[] = BUILTIN_MODULES.map((m) => m.role);

export function builtinModule(role: string): AnyServiceModule | undefined {
  return BUILTIN_MODULES.find((m) => m.role === role);
}
