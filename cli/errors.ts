export function describeFailure(err: unknown, opts: { stacks: boolean; cfg?: unknown; role?: string }): string {
  if (opts.stacks && err instanceof Error && err.stack) return err.stack;
  return err instanceof Error ? err.message : String(err);
}
