// Issue 14, item 5: a child whose event loop is blocked dies within 2 s of its kernel's SIGKILL.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { pidAlive, waitFor } from './helpers/wait.js';

let k: RunningKernel;

/** The process state letter from /proc (R running, S sleeping, Z zombie), or null when it is gone. */
function procState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0]!;
  } catch {
    return null;
  }
}
const gone = (pid: number) => !pidAlive(pid) || procState(pid) === 'Z' || procState(pid) === null;
let childPid = 0;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'spinner', {
    router: `export default (router) => {
  router.get('/spin', (req, res) => { res.json({ pid: process.pid }); setTimeout(() => { for (;;) {} }, 20); });
};`,
  });
  k = await startKernel({ modulesDir });
});

afterAll(async () => {
  if (childPid && !gone(childPid)) process.kill(childPid, 'SIGKILL');
  await stopAllKernels();
});

describe('orphan exit (item 5)', () => {
  it('a child spinning at 100 % CPU is gone within 2 s of the kernel being SIGKILLed', async () => {
    childPid = (await k.json('/api/v1/spinner/spin')).pid;
    expect(pidAlive(childPid)).toBe(true);
    await waitFor(() => procState(childPid) === 'R', { timeoutMs: 5000, intervalMs: 10, what: 'the child spinning' });
    const killedAt = Date.now();
    k.proc.kill('SIGKILL');
    await waitFor(() => gone(childPid), { timeoutMs: 5000, intervalMs: 20, what: 'the orphan to exit' });
    const ms = Date.now() - killedAt;
    console.log(`busy orphan gone ${ms} ms after the kernel's SIGKILL`);
    expect(ms).toBeLessThan(2000);
  });
});
