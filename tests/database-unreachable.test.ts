// An unreachable DATABASE_URL stops the kernel at start with one clear line, fast, and
// without leaving anything behind.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { tempDir, writeModule, helloRouter } from './helpers/modules.js';
import { freePort } from './helpers/ports.js';

describe('unreachable DATABASE_URL', () => {
  it('exits 1 within seconds, naming the server and what to do', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'alpha', { router: helloRouter });
    const port = await freePort();
    const started = Date.now();
    const proc = spawn(process.execPath, [join(HUB_ROOT, 'dist/kernel/main.js')], {
      env: { PATH: process.env.PATH, HUB_PORT: '0', HUB_ADMIN_PORT: '0', HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('data'), DATABASE_URL: `postgres://hub:pw@127.0.0.1:${port}/hub` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    const fatal = out.split('\n').filter((l) => l.includes('"level":60'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port}`);
    expect(fatal[0]).toMatch(/fix DATABASE_URL/);
    expect(fatal[0]).not.toContain(':pw@'); // the password is never logged
    expect(out).not.toMatch(/Found module alpha/); // nothing was started
  });
});
