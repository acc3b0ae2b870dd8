// Issue 14, item 10 (one client cannot starve the others of connections) and the 503 a
// browser gets for a failed module (HTML page, no "try again shortly"; JSON otherwise).
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;
const sockets: Socket[] = [];

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'hello', { router: helloRouter });
  writeModule(modulesDir, 'broken', { files: { 'backend/router.ts': 'export default (router => {' } });
  k = await startKernel({
    modulesDir,
    env: { HUB_MAX_CONNECTIONS_PER_CLIENT: '20', HUB_HEADERS_TIMEOUT_MS: '1500' },
  });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await stopAllKernels();
});

/** A connection that sends half a request line and then nothing; resolves once connected. */
function halfOpen(localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: k.port, localAddress }, () => {
      s.write('GET /api/v1/hello/hel');
      resolve(s);
    });
    s.on('error', () => undefined);
    s.once('error', reject);
    s.resume(); // read what the kernel sends (a 408), so its end is seen
    sockets.push(s);
  });
}

/** A full request from `localAddress` (another loopback address is another client). */
function askFrom(localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: k.port, localAddress }, () => s.write(`GET /api/v1/hello/hello HTTP/1.1\r\nHost: 127.0.0.1:${k.port}\r\nConnection: close\r\n\r\n`));
    let text = '';
    s.on('data', (c) => (text += c));
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('no answer in 5 s')));
  });
}

describe('front door limits (item 10)', () => {
  it('60 half-open connections from one client: beyond 20 are closed, another client still gets answers, and idle ones time out', async () => {
    const opened = await Promise.all(Array.from({ length: 60 }, () => halfOpen('127.0.0.1')));
    const closedAt = (s: Socket) => s.destroyed || s.readableEnded;
    // the ceiling: the connections past 20 are closed by the kernel right away
    await waitFor(() => (opened.filter(closedAt).length >= 40 ? true : undefined), { timeoutMs: 5000, what: '40 connections refused' });
    expect(opened.filter((s) => !closedAt(s)).length).toBeLessThanOrEqual(20);
    // another client (another loopback address) is served meanwhile
    const answer = await askFrom('127.0.0.2');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    // the header timeout (1.5 s here) closes the rest
    const t0 = Date.now();
    await waitFor(() => (opened.every(closedAt) ? true : undefined), { timeoutMs: 10_000, what: 'half-open connections closed by the header timeout' });
    console.log(`half-open connections all closed ${Date.now() - t0} ms after the ceiling check`);
    // and the first client can come back
    expect(await askFrom('127.0.0.1')).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('503 for a module that is not serving', () => {
  it('a failed module: HTML page for a browser, JSON otherwise, neither says "try again shortly"', async () => {
    await k.waitForState('broken', 'failed');
    const html = await k.get('/api/v1/broken/anything', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.status).toBe(503);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await html.text();
    expect(page).toMatch(/<title>503 module_not_running<\/title>/);
    expect(page).toMatch(/module broken has failed/);
    expect(page).toMatch(/hubctl logs broken/);
    expect(page).not.toMatch(/try again shortly/);
    expect(page).not.toMatch(/<script/i);
    const json = await k.get('/api/v1/broken/anything');
    expect(json.status).toBe(503);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await json.json()) as any;
    expect(body.error).toBe('module_not_running');
    expect(body.message).toMatch(/has failed/);
    expect(body.message).not.toMatch(/try again shortly/);
    expect(json.headers.get('retry-after')).toBeNull();
  });
});
