// Notices (issue 18 item 4) with a real HTTP receiver: a crash, the recovery, and an admin's
// disable/enable arrive as JSON POSTs; with the receiver down, a notice is retried and arrives
// once it is back; with the receiver down and many notices, the queue never holds more than
// HUB_NOTIFY_QUEUE_MAX, the oldest are dropped and counted, and the newest are delivered; a
// receiver that never answers is given up on per POST (timeout) and holds up no other.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

interface Notice {
  id: number;
  time: string;
  type: string;
  module: string;
  state: string;
  message: string;
  actor: string | null;
  restarts: number;
}

const QUEUE_MAX = 4;

/** A webhook receiver that can go down and come back on the same port. */
class Receiver {
  readonly got: Notice[] = [];
  readonly contentTypes: string[] = [];
  private server: Server | null = null;
  port = 0;

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.contentTypes.push(String(req.headers['content-type']));
        this.got.push(JSON.parse(body) as Notice);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook?secret=s3cret`;
  }
}

const receiver = new Receiver();
// a second receiver that takes the POST and never answers: each try ends at HUB_NOTIFY_TIMEOUT_MS
const hanging = createServer(() => undefined);
let k: RunningKernel;

const crashRouter = `export default (router) => {
  router.get('/ok', (req, res) => res.json({ ok: true }));
  router.post('/crash', (req, res) => { res.json({ bye: true }); setTimeout(() => process.exit(3), 10); });
};`;

async function admin(path: string): Promise<Response> {
  const res = await k.admin(path, { method: 'POST' });
  expect(res.status).toBeLessThan(300);
  return res;
}

beforeAll(async () => {
  await receiver.up();
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', () => resolve()));
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/slow`;
  const modulesDir = tempDir('notices');
  writeModule(modulesDir, 'crashy', { router: crashRouter });
  writeModule(modulesDir, 'toggle', { router: 'export default () => {};' });
  // throws while loading, every time: crashes, then failed (HUB_CRASH_LIMIT=2)
  writeModule(modulesDir, 'broken', { router: 'throw new Error("no config <b>here</b>");\nexport default () => {};' });
  k = await startKernel({
    modulesDir,
    env: { HUB_NOTIFY_URL: `${receiver.url},${hangingUrl}`, HUB_NOTIFY_RETRY_MS: '50', HUB_NOTIFY_QUEUE_MAX: String(QUEUE_MAX), HUB_NOTIFY_TIMEOUT_MS: '1000', HUB_BACKOFF_BASE_MS: '20', HUB_CRASH_LIMIT: '2' },
  });
}, 120_000);

afterAll(async () => {
  await stopAllKernels();
  await receiver.down();
  hanging.closeAllConnections();
  await new Promise<void>((resolve) => hanging.close(() => resolve()));
});

describe('notices to HUB_NOTIFY_URL', () => {
  it('POSTs a crash and the recovery as JSON', async () => {
    const crashed = await k.get('/api/v1/crashy/crash', { method: 'POST' });
    expect(crashed.status).toBe(200);
    const got = await waitFor(() => receiver.got.find((n) => n.type === 'module.crashed' && n.module === 'crashy'), { what: 'crash notice', timeoutMs: 20_000 });
    expect(got).toMatchObject({ module: 'crashy', actor: null });
    expect(got.message).toMatch(/^crashy crashed: .*restarting$/);
    expect(Number.isInteger(got.id) && !Number.isNaN(Date.parse(got.time))).toBe(true);
    expect(receiver.contentTypes[0]).toBe('application/json');
    const back = await waitFor(() => receiver.got.find((n) => n.type === 'module.recovered' && n.module === 'crashy'), { what: 'recovery notice', timeoutMs: 20_000 });
    expect(back.state).toBe('running');
    expect(back.id).toBeGreaterThan(got.id);
    // the same notices on the admin API, newest first
    const list = (await (await k.admin('/api/v1/notices')).json()) as { notices: Notice[]; last_id: number };
    expect(list.notices.filter((n) => n.module === 'crashy').map((n) => n.type)).toEqual(['module.recovered', 'module.crashed']);
  });

  it('POSTs module.failed with the module\'s error as JSON data', async () => {
    const failed = await waitFor(() => receiver.got.find((n) => n.type === 'module.failed' && n.module === 'broken'), { what: 'failed notice', timeoutMs: 30_000 });
    expect(failed.state).toBe('failed');
    expect(failed.message).toContain('no config <b>here</b>');
    expect(receiver.got.some((n) => n.type === 'module.crashed' && n.module === 'broken')).toBe(true);
  });

  it('says who disabled and enabled a module', async () => {
    await admin('/api/v1/modules/toggle/disable');
    await admin('/api/v1/modules/toggle/enable');
    await waitFor(() => receiver.got.some((n) => n.type === 'module.enabled' && n.module === 'toggle'), { what: 'enable notice' });
    const mine = receiver.got.filter((n) => n.module === 'toggle');
    expect(mine.map((n) => [n.type, n.actor])).toEqual([['module.disabled', 'admin-token'], ['module.enabled', 'admin-token']]);
  });

  it('retries while the receiver is down and delivers when it is back', async () => {
    await receiver.down();
    const before = receiver.got.length;
    await admin('/api/v1/modules/toggle/disable');
    // the kernel saw the failure (its log names the receiver's origin, not the URL's secret)
    const line = await k.waitForLog(new RegExp(`notices to http://127\\.0\\.0\\.1:${receiver.port}: ECONNREFUSED; retrying with backoff`), 20_000);
    expect(line).not.toContain('s3cret');
    await receiver.up();
    const late = await waitFor(() => receiver.got.slice(before).find((n) => n.type === 'module.disabled'), { what: 'the retried notice', timeoutMs: 20_000 });
    expect(late.module).toBe('toggle');
    await admin('/api/v1/modules/toggle/enable');
    await waitFor(() => receiver.got.slice(before).some((n) => n.type === 'module.enabled'), { what: 'enable after recovery' });
  });

  it('keeps at most HUB_NOTIFY_QUEUE_MAX while the receiver is down, drops the oldest and counts them', async () => {
    await receiver.down();
    const before = receiver.got.length;
    const stats = async () => ((await (await k.admin('/api/v1/notices')).json()) as { receivers: { queued: number; dropped: number }[]; last_id: number });
    const TOGGLES = 5; // 10 notices
    let maxQueued = 0;
    for (let i = 0; i < TOGGLES; i++) {
      await admin('/api/v1/modules/toggle/disable');
      maxQueued = Math.max(maxQueued, (await stats()).receivers[0]!.queued);
      await admin('/api/v1/modules/toggle/enable');
      maxQueued = Math.max(maxQueued, (await stats()).receivers[0]!.queued);
    }
    const s = await stats();
    expect(maxQueued).toBe(QUEUE_MAX);
    expect(s.receivers[0]!.queued).toBe(QUEUE_MAX);
    expect(s.receivers[0]!.dropped).toBe(2 * TOGGLES - QUEUE_MAX);
    await k.waitForLog(new RegExp(`notices to http://127\\.0\\.0\\.1:${receiver.port}: queue full \\(4\\), dropped the oldest`), 10_000);
    const metrics = await (await k.admin('/metrics')).text();
    expect(metrics).toContain(`hub_notify_dropped_total{receiver="http://127.0.0.1:${receiver.port}"} ${2 * TOGGLES - QUEUE_MAX}`);
    expect(metrics).toContain(`hub_notify_queued{receiver="http://127.0.0.1:${receiver.port}"} ${QUEUE_MAX}`);
    expect(metrics).not.toContain('s3cret');

    await receiver.up();
    await waitFor(() => receiver.got.length - before >= QUEUE_MAX, { what: 'the queued notices', timeoutMs: 20_000 });
    await waitFor(async () => (await stats()).receivers[0]!.queued === 0, { what: 'an empty queue' });
    // exactly the newest QUEUE_MAX, in order
    const delivered = receiver.got.slice(before).map((n) => n.id);
    expect(delivered).toEqual(Array.from({ length: QUEUE_MAX }, (_, i) => s.last_id - QUEUE_MAX + 1 + i));
  });

  it('gives up on a POST nobody answers within HUB_NOTIFY_TIMEOUT_MS, without holding up the other receiver', async () => {
    const port = (hanging.address() as AddressInfo).port;
    await k.waitForLog(new RegExp(`notices to http://127\\.0\\.0\\.1:${port}: no answer within 1000 ms; retrying with backoff`), 20_000);
    // meanwhile the first receiver got every notice (the ones above)
    const list = (await (await k.admin('/api/v1/notices')).json()) as { receivers: { queued: number; delivered: number }[] };
    expect(list.receivers[0]).toMatchObject({ queued: 0 });
    expect(list.receivers[1]!.delivered).toBe(0);
  });

  it('serves the ring only with the admin credential, and names a bad query', async () => {
    expect((await fetch(`${k.adminUrl}/api/v1/notices`)).status).toBe(401);
    expect((await k.get('/api/v1/notices')).status).toBe(404); // not on the public origin
    const bad = await k.admin('/api/v1/notices?after=-1');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'bad_request', message: 'after must be a notice id (a whole number, 0 or more)' });
    const newest = (await (await k.admin('/api/v1/notices?limit=1')).json()) as { notices: Notice[]; last_id: number };
    expect(newest.notices.map((n) => n.id)).toEqual([newest.last_id]);
  });
});
