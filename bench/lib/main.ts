/** Runs a bench module as a script: prints its markdown, exits 0; prints the error, exits 1. */
export function runAsMain(run: () => Promise<string>): void {
  run().then(
    (md) => {
      process.stdout.write(`${md}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
