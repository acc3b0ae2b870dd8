// Children run under Node's permission model: a module's code may read the hub's runtime,
// the modules and its compiled code, and nothing else. It cannot read the kernel's data
// (the embedded database's password, other modules' logs), write files or start processes.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;
let dataDir: string;

const prober = `import { readFileSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
const attempt = (fn) => { try { fn(); return 'allowed'; } catch (e) { return e.code ?? e.message; } };
export default (router) => {
  router.get('/probe', (req, res) => res.json({
    dataFile: attempt(() => readFileSync(req.query.data)),
    otherLog: attempt(() => readFileSync(req.query.log)),
    otherSource: attempt(() => readFileSync(req.query.source)),
    etcPasswd: attempt(() => readFileSync('/etc/passwd')),
    writeTmp: attempt(() => writeFileSync('/tmp/hub-sandbox-probe.txt', 'x')),
    spawn: attempt(() => execSync('true')),
    // a module reads its own files beside its code: the kernel stages them with the build
    ownManifest: attempt(() => readFileSync(new URL('../module.json', import.meta.url))),
  }));
};`;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'prober', { router: prober });
  writeModule(modulesDir, 'other', { router: helloRouter });
  dataDir = tempDir('data');
  k = await startKernel({ modulesDir, dataDir });
});

afterAll(async () => {
  await stopAllKernels();
  // HUB_CHILD_PERMISSIONS=false lets the probe write it
  rmSync('/tmp/hub-sandbox-probe.txt', { force: true });
});

describe('child sandbox', () => {
  it("denies reading the kernel's data, other modules' logs and the system, writing and spawning", async () => {
    const q = new URLSearchParams({
      data: join(dataDir, 'logs', 'app.log'),
      log: join(dataDir, 'logs', 'other.log'),
      source: join(k.modulesDir, 'other', 'backend', 'router.js'),
    });
    const r = await k.json(`/api/v1/prober/probe?${q}`);
    expect(r).toEqual({
      dataFile: 'ERR_ACCESS_DENIED',
      otherLog: 'ERR_ACCESS_DENIED',
      otherSource: 'ERR_ACCESS_DENIED',
      etcPasswd: 'ERR_ACCESS_DENIED',
      writeTmp: 'ERR_ACCESS_DENIED',
      spawn: 'ERR_ACCESS_DENIED',
      ownManifest: 'allowed',
    });
  });

  it('can be turned off with HUB_CHILD_PERMISSIONS=false', async () => {
    const open = await startKernel({ modulesDir: k.modulesDir, env: { HUB_CHILD_PERMISSIONS: 'false' } });
    const r = await open.json(`/api/v1/prober/probe?${new URLSearchParams({ data: '/etc/hostname', log: '/etc/hostname', manifest: '/etc/hostname' })}`);
    expect(r.etcPasswd).toBe('allowed');
    await open.stop();
  });
});
