// Where hubctl looks: the same variables and defaults as the kernel (kernel/config.ts),
// read without the kernel's strict parsing so a typo in an unrelated setting cannot stop
// `hubctl create` or `hubctl enable`.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The kernel's admin origin: HUB_URL, else http://127.0.0.1:<HUB_ADMIN_PORT or 8001>. */
export function hubUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.HUB_URL || `http://127.0.0.1:${env.HUB_ADMIN_PORT || '8001'}`;
  return url.replace(/\/+$/, '');
}

/** The public origin where modules answer on this machine: http://127.0.0.1:<HUB_PORT or 8000>. */
export function publicUrl(env: NodeJS.ProcessEnv = process.env): string {
  return `http://127.0.0.1:${env.HUB_PORT || '8000'}`;
}

/** The admin credential: HUB_ADMIN_TOKEN, else the kernel's HUB_DATA_DIR/admin-token if readable. */
export function adminToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.HUB_ADMIN_TOKEN) return env.HUB_ADMIN_TOKEN;
  try {
    return readFileSync(join(dataDir(env), 'admin-token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
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
