/** The generated Thrift code (npm run gen), re-exported so nobody imports gen/ paths directly. */
import { GameError } from './gen/noon';
import { shareGameErrorType } from './shared-game-error';

export * from './gen/noon';

shareGameErrorType(GameError);
