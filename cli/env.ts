// Where hubctl looks: the same variables and defaults as the kernel (kernel/config.ts),
// read without the kernel's strict parsing so a typo in an unrelated setting cannot stop
// `hubctl create` or `hubctl enable`.
import { resolve } from 'node:path';

export function hubUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.HUB_URL || `http://127.0.0.1:${env.HUB_PORT || '8000'}`;
  return url.replace(/\/+$/, '');
}

export function adminToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.HUB_ADMIN_TOKEN || undefined;
}

export function modulesDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.HUB_MODULES_DIR || './modules');
}

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.HUB_DATA_DIR || './.hub');
}

/** True when HUB_URL names this machine, so its modules folder is the one the hub would load. */
export function hubIsLocal(url: string = hubUrl()): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || host.startsWith('127.');
  } catch {
    return false;
  }
}
