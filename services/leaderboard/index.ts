export { leaderboardModule, leaderboardService } from './service';
export { Ranks } from './ranks';
