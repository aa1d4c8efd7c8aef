/** The generated Thrift code (npm run gen), re-exported so nobody imports gen/ paths directly. */
import { GameError } from './gen/noon';
import { shareGameErrorType } from './shared-game-error';

export * from './gen/noon';

shareGameErrorType(GameError);
/** names of the fields and arguments the IDL marks sensitive (redacted by the traffic tap) */
export { SENSITIVE_FIELDS } from './gen/sensitive';
