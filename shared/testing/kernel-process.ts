// One real kernel process for the module test kit: `node dist/kernel/main.js` of the hub with
// the environment it is given, its output kept as lines, and the ports it reports on its
// "Gateway listening" and "Admin listening" lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HUB_ROOT } from '../paths.js';
import { fatal, waitFor } from './wait.js';

/** The compiled kernel the test kit starts; `npm run build` writes it. */
export const KERNEL_ENTRY = join(HUB_ROOT, 'dist', 'kernel', 'main.js');

export interface KernelProcess {
  proc: ChildProcess;
  /** Every line the kernel wrote (stdout and stderr), in order. */
  lines: string[];
  port: number;
  adminPort: number;
  /** Sends `signal` (default SIGTERM), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

const GATEWAY_LINE = /Gateway listening on http:\/\/[^:]+:(\d+)/;
const ADMIN_LINE = /Admin listening on http:\/\/[^:]+:(\d+)/;
const LOADED_LINE = /✅ Loaded \d+ modules/;

/**
 * Starts the kernel with exactly `env` (its pid written to `pidFile`, for the reaper) (plus nothing of this process's environment) and waits
 * until it listens on both origins and has loaded its modules. Throws, with the kernel's
 * output, when dist/ is missing, the kernel exits, or it is not up within `timeoutMs`.
 */
export async function spawnKernel(env: Record<string, string>, timeoutMs = 60_000, pidFile?: string): Promise<KernelProcess> {
  if (!existsSync(KERNEL_ENTRY)) {
    throw new Error(`bmc-hub/testing: ${KERNEL_ENTRY} not found; run \`npm run build\` in ${HUB_ROOT} first`);
  }
  const proc = spawn(process.execPath, [KERNEL_ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (pidFile && proc.pid) writeFileSync(pidFile, String(proc.pid));
  const lines: string[] = [];
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const l of parts) if (l.length > 0) lines.push(l);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const waitLine = (re: RegExp) =>
    waitFor(() => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw fatal(`the kernel exited with ${proc.exitCode ?? proc.signalCode}`);
      return lines.find((l) => re.test(l));
    }, { timeoutMs, intervalMs: 20, what: `kernel log line ${re}` });
  let port: number;
  let adminPort: number;
  try {
    port = Number(GATEWAY_LINE.exec(await waitLine(GATEWAY_LINE))![1]);
    adminPort = Number(ADMIN_LINE.exec(await waitLine(ADMIN_LINE))![1]);
    await waitLine(LOADED_LINE);
  } catch (e) {
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`bmc-hub/testing: ${(e as Error).message}\n--- kernel output ---\n${lines.slice(-40).join('\n')}`);
  }
  return {
    proc,
    lines,
    port,
    adminPort,
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
