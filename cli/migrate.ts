/** `noon migrate`: applies the pending migrations of every service the project runs (idempotent) and says what ran. */
import { mkdirSync } from 'node:fs';
import type { Config } from '../shared/config';
import { openDb } from '../shared/data/db';
import type { Logger } from '../shared/log';
import { migrateModule } from '../roles';
import { loadProject } from './project';

export interface Applied {
  service: string;
  applied: number;
  known: number;
}

export async function migrateAll(cfg: Config, logger: Logger): Promise<Applied[]> {
  if (cfg.pgUrl === undefined) mkdirSync(cfg.dataDir, { recursive: true });
  const db = await openDb({ ...(cfg.pgUrl !== undefined ? { pgUrl: cfg.pgUrl } : {}), dataDir: cfg.dataDir, logger });
  try {
    const out: Applied[] = [];
    for (const mod of loadProject(cfg).modules)
      out.push({ service: mod.role, applied: await migrateModule(db, mod), known: mod.migrations.length });
    return out;
  } finally {
    await db.close();
  }
}

export function describeMigrations(applied: Applied[], where: string): string {
  const lines = applied.map(
    (a) => `  ${a.service.padEnd(12)} ${a.applied > 0 ? `applied ${a.applied}` : 'up to date'} (${a.known} known)`,
  );
  const total = applied.reduce((n, a) => n + a.applied, 0);
  return [
    `migrations on ${where}:`,
    ...lines,
    total > 0 ? `${total} migration(s) applied` : 'nothing to apply',
    '',
  ].join('\n');
}
