// Runs the built hubctl as a user would, with only the environment given.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { HUB_ROOT } from '../../shared/paths.js';

export const HUBCTL = join(HUB_ROOT, 'dist/cli/hubctl.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function hubctl(args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [HUBCTL, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
