// `hubctl status [--json]`: every module at a glance.
import type { HubClient, ModuleRecord } from './client.js';
import { STATE_INFO } from '../shared/module-states.js';
import { bytes, duration, pc, stateColour, table } from './format.js';

export async function status(client: HubClient, opts: { json?: boolean }): Promise<void> {
  const records = await client.modules();
  if (opts.json) {
    process.stdout.write(JSON.stringify(records, null, 2) + '\n');
    return;
  }
  process.stdout.write(renderStatus(client.baseUrl, records) + '\n');
}

export function renderStatus(url: string, records: ModuleRecord[]): string {
  if (records.length === 0) return `hub at ${url}: no modules found (hubctl create <name> "<description>" makes one)`;
  const rows = records.map((r) => [
    r.name,
    r.version ?? '-',
    stateColour(r.state),
    r.pid === null ? '-' : String(r.pid),
    STATE_INFO[r.state]?.traffic ? duration(r.uptime_ms) : '-',
    String(r.restarts),
    r.cpu_percent === null || r.cpu_percent === undefined ? '-' : `${r.cpu_percent.toFixed(1)}%`,
    bytes(r.memory_rss_bytes),
    r.api_prefix ?? '-',
  ]);
  const out = [table(['NAME', 'VERSION', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'CPU', 'MEMORY', 'API PREFIX'], rows)];
  const running = records.filter((r) => STATE_INFO[r.state]?.traffic).length;
  const enabled = records.filter((r) => r.enabled).length;
  out.push('', pc.dim(`${records.length} modules, ${enabled} enabled, ${running} running · ${url}`));
  for (const r of records) {
    if (r.last_error && !STATE_INFO[r.state]?.traffic) out.push(`${pc.red('✖')} ${r.name}: ${r.last_error}`);
    if (r.reload_error) out.push(`${pc.yellow('⚠')} ${r.name}: reload failed, the previous version keeps serving: ${r.reload_error}`);
  }
  return out.join('\n');
}
