// `noon start $NOON_BENCH_ROLE` for benchmarks that need whole roles as separate processes, the way
// an operator runs them (bench/lib/procs.ts spawns scripts, not the CLI with arguments).
process.argv.splice(2, process.argv.length - 2, 'start', process.env.NOON_BENCH_ROLE ?? '');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- must run after argv is set
require('../../cli/main');
