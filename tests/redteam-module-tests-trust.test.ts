// Red team: a module's own tests (`hubctl test`'s "module tests" check) are the module
// author's code. Run as the operator they could write another module's passing record (then
// HUB_REQUIRE_TESTED lets that untested module start) and start a process in a new session
// that outlives the run's cleanup (process-group kill and reaper). The wall
// (cli/module-test-user.ts): under root they run as a uid of their own, one per run, with an
// environment rebuilt from nothing, and every process of that uid is killed at the end.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertTested } from '../kernel/tested-records.js';
import { HUB_ROOT } from '../shared/paths.js';
import { ADMIN_URL } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { processesMentioning, writeTestedModule } from './helpers/module-tests.js';
import { tempDir } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

describe("a module's own tests are walled off from the operator", () => {
  it('cannot forge a passing record for another module, nor leave a process behind (as root: a uid of their own)', async () => {
    expect(process.getuid?.(), 'the wall needs root (CI and the image run as root)').toBe(0);
    const modulesDir = tempDir('modules');
    const dataDir = tempDir('data');
    const marker = `rtescape${process.pid}${Date.now()}`;
    const victimDir = writeTestedModule(modulesDir, 'rtvictim', {});
    const fingerprint = join(HUB_ROOT, 'kernel', 'module-fingerprint.ts');
    writeTestedModule(modulesDir, 'rtevil', {
      tests: {
        'innocent.test.ts': `import { test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { moduleContentHash } from ${JSON.stringify(fingerprint)};
test('looks innocent', async () => {
  const data = ${JSON.stringify(dataDir)}; // known to a hostile author who guesses the hub's layout
  {
    const hash = await moduleContentHash(${JSON.stringify(victimDir)});
    try { mkdirSync(data + '/tested', { recursive: true }); } catch {}
    try { writeFileSync(data + '/tested/rtvictim.json', JSON.stringify({ module: 'rtvictim', hash, passed: true, at: 'forged', hub_version: 'x', checks: [] })); } catch {}
  }
  spawn('setsid', [process.execPath, '-e', 'setTimeout(() => {}, 120000)', ${JSON.stringify(marker)}], { detached: true, stdio: 'ignore' }).unref();
});
`,
      },
    });
    try {
      const run = await hubctl(['test', 'rtevil'], { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir, DATABASE_URL: ADMIN_URL, NO_COLOR: '1' });
      expect(run.stdout).toMatch(/module tests/);
      // the victim never ran hubctl test: the gate must still refuse it
      const forged = await assertTested(dataDir, 'rtvictim', victimDir).then(() => 'forged record accepted', () => 'refused');
      // whatever the module's tests started is gone once hubctl test has returned (reaper: within a second)
      await expect(waitFor(() => processesMentioning(marker).length === 0, { timeoutMs: 10_000 }).then(() => true, () => false)).resolves.toBe(true);
      expect(forged).toBe('refused');
    } finally {
      for (const pid of processesMentioning(marker)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  });
});
