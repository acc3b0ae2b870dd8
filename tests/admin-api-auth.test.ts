// Who may change the hub: with HUB_ADMIN_TOKEN a mutation needs the bearer token (401
// otherwise); without it only loopback clients may mutate (403 from another address); a
// foreign Host header is refused either way (DNS rebinding). Also: 409 for disabling a module
// an enabled module needs, and two simultaneous enables start one child, not two.
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

const TOKEN = 'test-admin-token-3f9a';


/** An address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return undefined;
}

afterAll(stopAllKernels);

describe('with HUB_ADMIN_TOKEN set', () => {
  let k: RunningKernel;
  beforeAll(async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'guarded', { router: helloRouter, manifest: { enabled: false } });
    k = await startKernel({ modulesDir, env: { HUB_ADMIN_TOKEN: TOKEN } });
  });

  it('answers 401 JSON without a token or with a wrong one, and changes nothing', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { authorization: `Bearer ${TOKEN}x` }];
    for (const headers of attempts) {
      const res = await k.get('/api/v1/modules/guarded/enable', { method: 'POST', headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
    }
    expect((await k.record('guarded')).state).toBe('disabled');
  });

  it('accepts the right token', async () => {
    const res = await k.get('/api/v1/modules/guarded/enable', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('running');
  });

  it('keeps reads open', async () => {
    expect((await k.get('/api/v1/modules')).status).toBe(200);
    expect((await k.get('/api/v1/modules/guarded/logs?lines=1')).status).toBe(200);
  });
});

describe('without a token', () => {
  let k: RunningKernel;
  let modulesDir: string;
  beforeAll(async () => {
    modulesDir = tempDir('modules');
    writeModule(modulesDir, 'base', { router: helloRouter });
    writeModule(modulesDir, 'uses_base', { router: helloRouter, manifest: { dependencies: ['base'] } });
    writeModule(modulesDir, 'twice', {
      manifest: { enabled: false },
      // every process that loads the module says so in the module's log
      router: `export default (router) => {
  console.log('module loaded by ' + process.pid);
  router.get('/hello', (req, res) => res.json({ pid: process.pid }));
};`,
    });
    k = await startKernel({ modulesDir, env: { HUB_HOST: '0.0.0.0' } });
  });

  it('refuses a client that is not on this machine with 403', async () => {
    const address = outsideAddress();
    expect(address, 'this test needs a non-loopback address on the machine').toBeTruthy();
    if (!address) return;
    // Host is one of the hub's names, so only the client address can be the reason
    const res = await rawRequest({ method: 'POST', host: address, port: k.port, path: '/api/v1/modules/twice/enable', headers: { host: `localhost:${k.port}` } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/this machine only/) });
    expect((await k.record('twice')).state).toBe('disabled');
    // reads from there still work
    expect((await rawRequest({ host: address, port: k.port, path: '/api/v1/modules', method: 'GET', headers: { host: `localhost:${k.port}` } })).status).toBe(200);
  });

  it('refuses a Host that is not the hub (DNS rebinding) with 403, even from loopback', async () => {
    for (const host of ['evil.example', `evil.example:${k.port}`, 'localhost.evil.example']) {
      const res = await rawRequest({ method: 'POST', host: '127.0.0.1', port: k.port, path: '/api/v1/modules/twice/enable', headers: { host } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/not this hub's name/) });
    }
    expect((await k.record('twice')).state).toBe('disabled');
  });

  it('refuses cross-site browser requests (CSRF) but not the hub own pages', async () => {
    const attempts: Record<string, string>[] = [{ origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'http://127.0.0.1:1' }];
    for (const headers of attempts) {
      const res = await rawRequest({ method: 'POST', host: '127.0.0.1', port: k.port, path: '/api/v1/modules/twice/enable', headers: { host: `127.0.0.1:${k.port}`, ...headers } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/cross-site request/) });
    }
    expect((await k.record('twice')).state).toBe('disabled');
    const same = await rawRequest({ method: 'POST', host: '127.0.0.1', port: k.port, path: '/api/v1/modules/base/restart', headers: { host: `127.0.0.1:${k.port}`, origin: `http://127.0.0.1:${k.port}`, 'sec-fetch-site': 'same-origin' } });
    expect(same.status).toBe(200);
  });

  it('answers 409 when disabling a module an enabled module depends on', async () => {
    const res = await k.get('/api/v1/modules/base/disable', { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'dependency_in_use', message: expect.stringMatching(/uses_base/) });
    expect((await k.record('base')).state).toBe('running');
  });

  it('starts one child for two simultaneous enables', async () => {
    const [a, b] = await Promise.all([
      k.get('/api/v1/modules/twice/enable', { method: 'POST' }),
      k.get('/api/v1/modules/twice/enable', { method: 'POST' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const [ra, rb] = [(await a.json()) as { state: string; pid: number }, (await b.json()) as { state: string; pid: number }];
    expect(ra.state).toBe('running');
    expect(rb.pid).toBe(ra.pid);
    const loads = () => readFileSync(join(k.dataDir, 'logs', 'twice.log'), 'utf8').split('\n').filter((l) => l.includes('module loaded by'));
    await waitFor(() => loads().length > 0, { what: 'the load line in the module log' });
    expect(loads()).toHaveLength(1);
    expect(loads()[0]).toContain(`module loaded by ${ra.pid}`);
  });
});
