/**
 * glibc's allocator settings for the role processes noon starts. By default glibc raises its
 * mmap and trim thresholds each time a large block is freed (up to 32 and 64 MiB), and from then
 * on keeps freed memory instead of giving it back: after a flood of hostile frames a broker's RSS
 * stayed 1.4× its start with no object retained (heap snapshots), held in malloc's arenas. With
 * both thresholds fixed at 128 KiB, blocks above it are mapped and unmapped on their own and free
 * memory at the top of a heap goes back to the OS; a 50,000-frame flood then left the broker at
 * 1.14–1.18× in four runs and 1.45× in a fifth (1.11–1.64× before), for the same CPU. After a
 * million frames it stays at 1.4–1.7× either way: V8 keeps the heap it grew (bench/README.md,
 * "Hostile input").
 *
 * glibc reads them from the environment when the process starts, so they are set for a child
 * before it is spawned (the supervisor of `noon up --processes`), and by the image and the
 * systemd unit (deploy/); a value already in the environment is kept.
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** `env` with ALLOCATOR_ENV added, unless the operator set any malloc tuning of their own. */
export function withAllocatorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (Object.keys(env).some((k) => k.startsWith('MALLOC_'))) return env;
  return { ...env, ...ALLOCATOR_ENV };
}
