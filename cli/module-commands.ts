// enable / disable / restart against the running hub, with a spinner while it works; with no
// hub listening on this machine, enable / disable fall back to editing module.json.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertModuleName } from '../shared/names.js';
import type { HubClient, ModuleRecord } from './client.js';
import { hubIsLocal, modulesDir } from './env.js';
import { CliError, EXIT, HubUnreachable } from './errors.js';
import { duration, pc, stateColour } from './format.js';
import { offlineDisable, offlineEnable } from './offline.js';
import { withSpinner } from './spinner.js';

type Verb = 'enable' | 'disable' | 'restart';

/** Hub errors whose explanation is in the module's own log. */
const START_FAILURES = new Set(['start_failed', 'migration_failed', 'migration_prefix', 'migration_checksum']);

/** Validates locally, so a bad name never reaches the hub or the file system. */
export function checkName(raw: string): string {
  try {
    return assertModuleName(raw);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.usage);
  }
}

const WORKING: Record<Verb, string> = {
  enable: 'Enabling {name}: migrating and starting',
  disable: 'Disabling {name}: draining and stopping',
  restart: 'Restarting {name}: starting a new process before the old one drains',
};

export async function moduleCommand(client: HubClient, verb: Verb, rawName: string, opts: { json?: boolean } = {}): Promise<void> {
  const name = checkName(rawName);
  let record: ModuleRecord & { enabled_dependencies?: string[] };
  try {
    record = await withSpinner(WORKING[verb].replace('{name}', name), () => client.action(name, verb));
  } catch (e) {
    if (e instanceof HubUnreachable && e.refused && verb !== 'restart' && hubIsLocal(client.baseUrl)) {
      return offline(verb, name, client.baseUrl);
    }
    if (e instanceof CliError && e.code === 'module_not_found' && hubIsLocal(client.baseUrl) && existsSync(join(modulesDir(), name, 'module.json'))) {
      throw new CliError(`the hub has not loaded ${name}: the running hub does not see its folder (does it use another HUB_MODULES_DIR?), check the hub's HUB_MODULES_DIR`, EXIT.notFound, e.code);
    }
    if (e instanceof CliError && e.code && START_FAILURES.has(e.code)) {
      throw new CliError(`${e.message}, see hubctl logs ${name}`, e.exitCode, e.code);
    }
    throw e;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(record, null, 2) + '\n');
    return;
  }
  process.stdout.write(describe(verb, record) + '\n');
}

function describe(verb: Verb, r: ModuleRecord & { enabled_dependencies?: string[] }): string {
  const lines: string[] = [];
  if (r.enabled_dependencies?.length) lines.push(`${pc.green('✔')} also enabled, as ${r.name} needs them: ${r.enabled_dependencies.join(', ')}`);
  if (verb === 'disable') {
    lines.push(`${pc.green('✔')} ${r.name} disabled (${stateColour(r.state)}); module.json says enabled: false`);
    return lines.join('\n');
  }
  lines.push(`${pc.green('✔')} ${r.name} ${verb === 'enable' ? 'enabled' : 'restarted'}: ${stateColour(r.state)}`);
  const facts: [string, string][] = [
    ['version', r.version ?? '-'],
    ['pid', r.pid === null ? '-' : String(r.pid)],
    ['port', r.port === null ? '-' : String(r.port)],
    ['api', r.api_prefix ?? '-'],
    ['restarts', String(r.restarts)],
    ['uptime', duration(r.uptime_ms)],
    ['database', r.db_isolation],
  ];
  for (const [k, v] of facts) lines.push(`  ${pc.dim(k.padEnd(9))}${v}`);
  return lines.join('\n');
}

async function offline(verb: 'enable' | 'disable', name: string, url: string): Promise<void> {
  const dir = modulesDir();
  const result = verb === 'enable' ? await offlineEnable(dir, name) : await offlineDisable(dir, name);
  const done = verb === 'enable' ? 'enabled' : 'disabled';
  if (result.changed.length === 0) {
    process.stdout.write(`${name} is already ${done} in ${result.file}; no hub at ${url}, it applies at next start (npm start)\n`);
    return;
  }
  const others = result.changed.filter((n) => n !== name);
  process.stdout.write(
    `${pc.green('✔')} ${name} ${done} in ${result.file}` +
      (others.length ? ` (also enabled, as it needs them: ${others.join(', ')})` : '') +
      `\n  no hub at ${url}, so this applies at next start (npm start)\n`,
  );
}
