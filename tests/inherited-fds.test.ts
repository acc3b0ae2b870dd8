// Issue 11 (red team): a descriptor the kernel inherits without close-on-exec (here fd 200, as a
// shell's `200>>file` leaves it; Node itself marks the low ones close-on-exec) must not reach module children; the kernel closes it at start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCloseOnExec } from '../kernel/inherited-fds.js';
import { HUB_ROOT } from '../shared/paths.js';
import { tempDir } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let proc: ChildProcess | undefined;
afterEach(() => {
  proc?.kill('SIGKILL');
  proc = undefined;
});

describe('descriptors inherited from the launcher', () => {
  it('are closed at start when not close-on-exec, so no module child gets them', async () => {
    const dataDir = tempDir('data');
    const leak = join(tempDir('leak'), 'secret.txt');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', HUB_PORT: '0', HUB_ADMIN_PORT: '0', HUB_MODULES_DIR: tempDir('modules'), HUB_DATA_DIR: dataDir, HUB_DATABASE: 'off', LOG_FORMAT: 'json' };
    proc = spawn('/bin/bash', ['-c', 'exec "$0" "$1" 200>>"$2"', process.execPath, join(HUB_ROOT, 'dist/kernel/main.js'), leak], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => (/Gateway listening/.test(out) ? true : undefined), { timeoutMs: 20_000, what: 'the kernel listening' });
    expect(out).toMatch(/Closed \d+ file descriptor\(s\) inherited without close-on-exec \([\d, ]*\b200\b/);
    expect(existsSync(`/proc/${proc.pid}/fd/200`)).toBe(false);
  });

  it('reads close-on-exec from the octal flags line of fdinfo, and leaves a descriptor it cannot read alone', () => {
    expect(isCloseOnExec('pos:\t0\nflags:\t02100000\nmnt_id:\t1\n')).toBe(true);
    expect(isCloseOnExec('pos:\t0\nflags:\t01\nmnt_id:\t1\n')).toBe(false);
    expect(isCloseOnExec('pos:\t0\n')).toBe(true);
  });
});
