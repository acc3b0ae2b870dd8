// Module configuration: MODULES__<NAME>__<KEY>. The kernel uses moduleConfigFromEnv to
// hand a child its own keys and nothing else; the child wraps them in ctx.config.
import type { ModuleConfig } from '../module-api.js';
import { envName } from '../names.js';

export function moduleConfigFromEnv(env: NodeJS.ProcessEnv, name: string): Record<string, string> {
  const prefix = `MODULES__${envName(name)}__`;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith(prefix) && v !== undefined && k.length > prefix.length) out[k.slice(prefix.length)] = v;
  }
  return out;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function parseBool(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return fallback;
}

export function createModuleConfig(values: Record<string, string>): ModuleConfig {
  const lookup = (key: string) => values[key] ?? values[key.toUpperCase()];
  return {
    get(key: string, fallback?: string) {
      return (lookup(key) ?? fallback) as string;
    },
    bool: (key, fallback) => parseBool(lookup(key), fallback),
    number(key, fallback) {
      const raw = lookup(key);
      const n = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
      return Number.isFinite(n) ? n : fallback;
    },
  } as ModuleConfig;
}
