// Nothing on a child's word, and nothing a child writes can exhaust the kernel (issue 11,
// items 8, 9 and 14): memory is measured by the OS, log lines are capped without ever being
// held whole, the log ring is bounded in bytes, and control sequences never reach a reader.
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;
let idleRss = 0;
const dirs: string[] = [];

// Reports 50 MB in every heartbeat (the runtime's stats come from process.memoryUsage),
// whatever it really holds, then grows to ~300 MB outside the V8 heap (so
// --max-old-space-size does not stop it).
const liar = `
const real = process.memoryUsage.bind(process);
process.memoryUsage = () => ({ ...real(), rss: 50 * 1048576 });
const hoard = [];
export default (router) => {
  router.post('/grow', (req, res) => {
    for (let i = 0; i < 30; i++) hoard.push(Buffer.alloc(10 * 1048576, 1));
    res.json({ held_mb: hoard.length * 10 });
  });
};`;

// Writes one frame of 200 MB (no newline) to the kernel's channel on fd 3.
const shouter = `import { writeSync } from 'node:fs';
export default (router) => {
  router.post('/shout', (req, res) => {
    res.json({ shouting: true });
    setImmediate(() => {
      // fd 3 is non-blocking: keep pushing through EAGAIN like a determined module would
      const put = (buf) => { let off = 0; while (off < buf.length) { try { off += writeSync(3, buf, off); } catch (e) { if (e.code !== 'EAGAIN') throw e; } } };
      const chunk = Buffer.alloc(8 * 1048576, 0x61);
      put(Buffer.from('{"type":"pong","seq":1,"stats":{"rss":1},"pad":"'));
      for (let i = 0; i < 25; i++) put(chunk);
    });
  });
};`;

const flooder = `
export default (router) => {
  router.post('/flood', (req, res) => {
    const n = Number(req.query.n), mb = Number(req.query.mb);
    const line = 'y'.repeat(mb * 1048576) + '\\n';
    for (let i = 0; i < n; i++) process.stdout.write(line);
    console.log('flood done');
    res.json({ wrote: n });
  });
  router.post('/escape', (req, res) => {
    console.log('\\x1b]0;title\\x07\\x1b[2Jcleared\\x1b[31m red\\x1b[0m \\x9b1mC1\\x07\\x08 done\\ttab');
    res.json({ ok: true });
  });
};`;

const kernelRss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${k.proc.pid}/status`, 'utf8'))![1]) * 1024;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  dirs.push(modulesDir);
  writeModule(modulesDir, 'liar', { router: liar, manifest: { max_memory_mb: 100 } });
  writeModule(modulesDir, 'flooder', { router: flooder });
  writeModule(modulesDir, 'shouter', { router: shouter });
  writeModule(modulesDir, 'escfail', { router: "throw new Error('boom \\x1b]0;PWNED\\x07\\x1b[31mRED\\x1b[0m');\nexport default () => {};" });
  k = await startKernel({ modulesDir, env: { HUB_HEARTBEAT_INTERVAL_MS: '200', HUB_HEARTBEAT_TIMEOUT_MS: '30000' } });
  dirs.push(k.dataDir);
  idleRss = kernelRss();
});

afterAll(async () => {
  await stopAllKernels();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function logEntries(name: string, lines: number): Promise<Record<string, any>[]> {
  const res = await k.admin(`/api/v1/modules/${name}/logs?lines=${lines}`);
  expect(res.status).toBe(200);
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('a module that lies or floods', () => {
  it('is recycled by the RSS the OS measures, whatever its heartbeats say', async () => {
    const before = await k.record('liar');
    expect(before.state).toBe('running');
    const grow = await k.get('/api/v1/liar/grow', { method: 'POST' }).catch(() => null);
    expect(grow === null || grow.status === 200 || grow.status >= 500).toBe(true);
    // the reason is in the record until the replacement child is ready, and in the kernel's log for good
    const line = await k.waitForLog(/Module liar RSS/, 20_000);
    expect(line).toMatch(/"reason":"memory"/);
    expect(line).toMatch(/RSS \d+ MB is above max_memory_mb 100 \(measured by the OS\)/);
    // the record shows what the OS says for the new child, not a reported number
    // (the first OS reading of the new child comes with its first heartbeat, moments after ready)
    const again = await waitFor(async () => {
      const r = await k.record('liar');
      return r.state === 'running' && typeof r.memory_rss_bytes === 'number' ? r : undefined;
    }, { what: 'liar running again with an OS memory figure' });
    expect(again.memory_rss_bytes).toBeGreaterThan(10 * 1048576);
    expect(again.memory_rss_bytes).not.toBe(50 * 1048576);
  });

  it('400 lines of 10 MB on stdout leave the kernel alive with bounded RSS and a byte-bounded ring', async () => {
    const r = await k.get('/api/v1/flooder/flood?n=400&mb=10', { method: 'POST' });
    expect(r.status).toBe(200);
    await waitFor(async () => (await logEntries('flooder', 5)).some((e) => e.msg === 'flood done'), { timeoutMs: 120_000, what: 'flood done' });
    expect(k.proc.exitCode).toBeNull();
    const rss = kernelRss();
    console.log(`kernel RSS: ${Math.round(idleRss / 1048576)} MB at start, ${Math.round(rss / 1048576)} MB after 400 x 10 MB lines`);
    expect(rss).toBeLessThan(300 * 1048576);
    const tail = await logEntries('flooder', 1000);
    const long = tail.filter((e) => String(e.msg).startsWith('yyy'));
    expect(long.length).toBeGreaterThan(0);
    for (const e of long) {
      expect(e.msg).toMatch(/ … \[truncated \d+ bytes\]$/);
      expect(e.msg.length).toBeLessThan(17 * 1024);
    }
    // the health route still answers quickly
    expect((await k.get('/health')).status).toBe(200);
    expect((await k.record('flooder')).state).toBe('running');
  }, 180_000);

  it('is killed, with the reason in its record, when it sends an IPC message over the cap', async () => {
    const before = kernelRss();
    const pid = (await k.record('shouter')).pid;
    expect((await k.get('/api/v1/shouter/shout', { method: 'POST' })).status).toBe(200);
    // the reason is in the record until the replacement child is ready, and in the kernel's log for good
    const line = await k.waitForLog(/Module shouter sent an IPC message/, 20_000);
    expect(line).toMatch(/"reason":"protocol"/);
    expect(line).toMatch(/sent an IPC message of more than 1048576 bytes/);
    const again = await k.waitForState('shouter', 'running');
    expect(again.pid).not.toBe(pid);
    expect(kernelRss() - before).toBeLessThan(50 * 1048576);
  });

  it('control sequences never reach the logs API or hubctl logs', async () => {
    expect((await k.get('/api/v1/flooder/escape', { method: 'POST' })).status).toBe(200);
    const entry = await waitFor(async () => (await logEntries('flooder', 20)).find((e) => String(e.msg).includes('cleared')));
    expect(entry.msg).toBe('cleared red C1 done\ttab');
    const out = await hubctl(['logs', 'flooder', '-n', '5'], { HUB_URL: k.url, HUB_DATA_DIR: k.dataDir, ...(k.adminToken() ? { HUB_ADMIN_TOKEN: k.adminToken()! } : {}) });
    expect(out.stdout).toContain('cleared red C1 done');
    // colour codes hubctl adds itself are allowed only without a TTY-less NO_COLOR; none of the module's survive
    expect(out.stdout).not.toMatch(/\x1b\]|\x1b\[2J|\x07|\x9b/);
  });

  it("hubctl status prints a module's last_error without its control sequences (red team)", async () => {
    const rec = await k.waitForState('escfail', 'failed', 60_000);
    expect(rec.last_error).toContain('boom');
    const out = await hubctl(['status'], { HUB_URL: k.adminUrl, HUB_DATA_DIR: k.dataDir });
    const json = await hubctl(['status', '--json'], { HUB_URL: k.adminUrl, HUB_DATA_DIR: k.dataDir });
    for (const text of [out.stdout + out.stderr, json.stdout]) {
      expect(text).toContain('boom');
      expect(text).not.toMatch(/\x1b\]|\x07|PWNED\x07|\\u001b|\\u0007/);
    }
  });
});
