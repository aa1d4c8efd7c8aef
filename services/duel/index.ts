export { duelModule, duelModuleWith, duelService, duelOptions, MATCHMAKING_KEY } from './service';
export { LEADERBOARD as DUEL_BOARD } from './table';
