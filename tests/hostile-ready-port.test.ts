// A child's `ready` names the port the kernel routes its module to. A hostile child that names
// the admin origin, the kernel's own public port or a URL must not get traffic sent there: the
// kernel checks with the OS that the child itself listens on that port (red team finding).
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listensOn } from '../kernel/listening-port.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { freePort } from './helpers/ports.js';

const liar = (port: string) => `import { writeSync } from 'node:fs';
writeSync(3, JSON.stringify({ type: 'ready', port: ${port} }) + '\\n');
export default (router) => { router.get('/x', (req, res) => res.json({ from: 'liar' })); };`;

let k: RunningKernel;
let server: Server;

beforeAll(async () => {
  server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
});

afterAll(async () => {
  await stopAllKernels();
  server.close();
});

describe('the port a child reports as ready', () => {
  it('is believed only when the OS shows the process listening on it', () => {
    const port = (server.address() as { port: number }).port;
    expect(listensOn(process.pid, port)).toBe(true);
    expect(listensOn(process.pid, port === 65535 ? 65534 : port + 1)).toBe(false);
    expect(listensOn(process.pid, String(port))).toBe(false);
    expect(listensOn(process.pid, 'http://127.0.0.1:8001/')).toBe(false);
    expect(listensOn(999_999_999, port)).toBe(false);
  });

  it("sends no traffic to the admin origin or the kernel's own port when a child names them", async () => {
    const [publicPort, adminPort] = [await freePort(), await freePort()];
    const modulesDir = tempDir('ready-liar');
    writeModule(modulesDir, 'good', { router: helloRouter });
    writeModule(modulesDir, 'liaradm', { router: liar(String(adminPort)) });
    writeModule(modulesDir, 'liarself', { router: liar(String(publicPort)) });
    writeModule(modulesDir, 'liarurl', { router: liar(JSON.stringify(`http://127.0.0.1:${adminPort}/api/v1/modules/good/logs?x=`)) });
    k = await startKernel({ modulesDir, env: { HUB_PORT: String(publicPort), HUB_ADMIN_PORT: String(adminPort), HUB_CRASH_LIMIT: '2', HUB_BACKOFF_BASE_MS: '10' } });
    await k.waitForLog(new RegExp(`reported port ${adminPort} as ready, which it does not listen on`));
    await k.waitForLog(new RegExp(`reported port ${publicPort} as ready, which it does not listen on`));
    // the kernel's log is JSON, so the quotes around the reported string are escaped there
    await k.waitForLog(/reported port \\?"http:\/\/127\.0\.0\.1:\d+\/api\/v1\/modules\/good\/logs\?x=\\?" as ready, which it does not listen on/);
    for (const name of ['liaradm', 'liarself', 'liarurl']) {
      const rec = await k.record(name);
      expect(rec.state, name).not.toBe('running');
      const res = await k.get(`/api/v1/${name}/x`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status, name).toBeGreaterThanOrEqual(500);
    }
    expect((await k.record('good')).state).toBe('running');
  });
});
