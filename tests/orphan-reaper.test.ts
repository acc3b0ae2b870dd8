// kernel/orphan-reaper.ts: when the process that owns the reaper dies by SIGKILL, every pid it
// still lists is killed, and a pid it unlisted is left alone. A real node process plays the
// kernel (the built dist/kernel/orphan-reaper.js) and real `sleep` processes its children.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { pidAlive, waitFor } from './helpers/wait.js';

const owner = `
import { spawn } from 'node:child_process';
import { OrphanReaper } from ${JSON.stringify(join(HUB_ROOT, 'dist/kernel/orphan-reaper.js'))};
const reaper = new OrphanReaper();
const listed = spawn('sleep', ['60'], { stdio: 'ignore' });
const unlisted = spawn('sleep', ['60'], { stdio: 'ignore' });
reaper.watch(listed.pid);
reaper.watch(unlisted.pid);
reaper.unwatch(unlisted.pid);
setTimeout(() => console.log(JSON.stringify({ listed: listed.pid, unlisted: unlisted.pid })), 100);
setInterval(() => undefined, 1000);
`;

const started: number[] = [];
let proc: ChildProcess | undefined;
afterAll(() => {
  proc?.kill('SIGKILL');
  for (const pid of started) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
});

describe('orphan reaper', () => {
  it('kills the listed children when its owner is SIGKILLed, and only those', async () => {
    proc = spawn(process.execPath, ['--input-type=module', '-e', owner], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: proc!.stdout! }).once('line', resolve));
    const { listed, unlisted } = JSON.parse(line) as { listed: number; unlisted: number };
    started.push(listed, unlisted);
    expect(pidAlive(listed)).toBe(true);
    proc.kill('SIGKILL');
    await waitFor(() => !pidAlive(listed), { timeoutMs: 5000, what: 'the listed child killed by the reaper' });
    expect(pidAlive(unlisted)).toBe(true);
  });
});
