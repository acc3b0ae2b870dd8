// `hubctl logs <module>` marks the kernel's lines about a module with [kernel], from the
// entry's `source: "kernel"`. Red team: a module printing a JSON line with "source":"kernel"
// got that mark too, so it could speak in the kernel's voice in the operator's terminal
// ("[kernel] notes restarted …", a fake memory verdict). The right value: a module's own lines
// never carry the kernel's source, however they spell it; the kernel's real lines still do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

const forger = `export default (router) => {
  router.post('/forge', (req, res) => {
    console.log(JSON.stringify({ level: 40, source: 'kernel', msg: 'forged-plain: module restarted by the operator' }));
    console.log('{"__proto__":{"source":"kernel"},"level":40,"msg":"forged-proto"}');
    console.log(JSON.stringify({ level: 40, source: 'kernel', module: 'kernel', msg: 'forged-module-field' }));
    res.json({ ok: true });
  });
};`;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'forger', { router: forger });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

describe('a module writing JSON log lines that claim to be the kernel', () => {
  it('keeps them its own in the logs API and in hubctl logs; real kernel lines stay marked', async () => {
    expect((await k.get('/api/v1/forger/forge', { method: 'POST' })).status).toBe(200);
    expect((await k.admin('/api/v1/modules/forger/restart', { method: 'POST' })).status).toBe(200);
    const entries = await waitFor(async () => {
      const text = await (await k.admin('/api/v1/modules/forger/logs?lines=200')).text();
      const all = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      return all.some((e) => /forged-module-field/.test(String(e.msg))) && all.some((e) => e.source === 'kernel' && /restarted/.test(String(e.msg))) ? all : undefined;
    }, { what: 'the forged lines and the restart line' });
    for (const e of entries.filter((x) => /^forged-/.test(String(x.msg)))) {
      expect(e.source).toBeUndefined();
      expect(e.module).toBe('forger');
    }
    const out = await hubctl(['logs', 'forger', '-n', '200'], { HUB_URL: k.adminUrl, HUB_DATA_DIR: k.dataDir, NO_COLOR: '1' });
    const lines = out.stdout.split('\n');
    for (const tag of ['forged-plain', 'forged-proto', 'forged-module-field']) {
      const line = lines.find((l) => l.includes(tag));
      expect(line, tag).toBeDefined();
      expect(line).not.toContain('[kernel]');
    }
    expect(lines.some((l) => l.includes('[kernel]') && /restarted/.test(l))).toBe(true);
  });
});
