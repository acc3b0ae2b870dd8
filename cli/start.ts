// `hubctl start`: the kernel in the foreground. It runs in its own process group so a
// Ctrl-C reaches it exactly once (through us) instead of twice, which the kernel would
// take as "stop now, do not drain".
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HUB_ROOT } from '../shared/paths.js';
import { CliError } from './errors.js';

export const KERNEL_ENTRY = join(HUB_ROOT, 'dist', 'kernel', 'main.js');

export function start(): Promise<number> {
  if (!existsSync(KERNEL_ENTRY)) throw new CliError(`${KERNEL_ENTRY} is missing, run npm run build`);
  const child = spawn(process.execPath, [KERNEL_ENTRY], { stdio: 'inherit', detached: true });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  // if we die without a signal we could forward, the kernel must not outlive us unseen
  const onExit = () => forward('SIGTERM')();
  process.on('exit', onExit);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new CliError(`cannot start the kernel: ${e.message}`)));
    child.once('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      process.off('exit', onExit);
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal];
}
