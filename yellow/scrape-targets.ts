/**
 * Yellow's table as Prometheus service discovery: one target group per instance that registered
 * a metrics URL, in the JSON that both `http_sd_configs` and `file_sd_configs` read. The role,
 * instance id and version travel as `__meta_noon_*` labels, for relabelling only: Prometheus
 * drops them after, so by default a target carries just `job` and `instance` (its address), and
 * a query takes the role from `noon_build_info`.
 */
import type { InstanceRecord } from './types';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export function scrapeTargets(records: readonly InstanceRecord[]): TargetGroup[] {
  const out: TargetGroup[] = [];
  for (const r of records) {
    const raw = r.endpoints.metrics;
    if (!raw) continue;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue; // Yellow validates registrations; a URL that does not parse is not scraped
    }
    out.push({
      targets: [url.host],
      labels: {
        __scheme__: url.protocol.replace(/:$/, ''),
        __metrics_path__: url.pathname,
        __meta_noon_role: r.role,
        __meta_noon_instance_id: r.instanceId,
        __meta_noon_version: r.version,
        __meta_noon_draining: String(r.draining === true),
      },
    });
  }
  return out.sort((a, b) => (a.targets[0] ?? '').localeCompare(b.targets[0] ?? ''));
}
