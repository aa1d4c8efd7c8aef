/** The `noon` command: composes the yargs tree (cli/commands.ts) and runs it. */
import { hideBin } from 'yargs/helpers';
import { buildCli } from './commands';

void buildCli(hideBin(process.argv)).parseAsync();
