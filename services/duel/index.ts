export {
  createDuelModule,
  duelModule,
  duelModuleWith,
  duelService,
  duelOptions,
  MATCHMAKING_KEY,
  type DuelModuleOptions,
} from './service';
export { duelRules, standardRules, type DuelRules } from './rules';
export { LEADERBOARD as DUEL_BOARD } from './table';
