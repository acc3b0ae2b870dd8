// What a module's output can cost the kernel (issue 11, item 8), through the doors the
// 10 MB-line test does not use. Red team: 8-40 MB of two-byte lines ("a\n") took the kernel from
// ~105 MB to ~340 MB RSS, since each line becomes a ~100-byte entry queued for the log file
// until the next event-loop turn; and a `hubctl logs -f` reader that stops reading (a paused
// pager) made the kernel buffer every line the module wrote, without end. The right values:
// the kernel stays within tens of MB of where it started, and the slow reader is told how many
// lines it missed instead.
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;
const sockets: Socket[] = [];

// writes `mb` MB of "a\n" without blocking its own event loop, then one marker line
const flooder = `export default (router) => {
  router.post('/flood', (req, res) => {
    const chunk = 'a\\n'.repeat(512 * 1024);
    let left = Number(req.query.mb);
    const tag = String(req.query.tag);
    const next = () => {
      if (left-- <= 0) return console.log('flood done ' + tag);
      process.stdout.write(chunk);
      setImmediate(next);
    };
    next();
    res.json({ started: true });
  });
};`;

const rss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${k.proc.pid}/status`, 'utf8'))![1]) * 1024;
const MB = 1024 * 1024;

/** Floods `mb` MB and returns the kernel's peak RSS while the kernel takes it in. */
async function floodPeak(tag: string, mb: number): Promise<number> {
  expect((await k.get(`/api/v1/flooder/flood?mb=${mb}&tag=${tag}`, { method: 'POST' })).status).toBe(200);
  let peak = rss();
  await waitFor(async () => {
    peak = Math.max(peak, rss());
    const text = await (await k.admin('/api/v1/modules/flooder/logs?lines=3')).text();
    return text.includes(`flood done ${tag}`) || undefined;
  }, { timeoutMs: 120_000, intervalMs: 50, what: `flood ${tag} to be taken in` });
  return Math.max(peak, rss());
}

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'flooder', { router: flooder });
  k = await startKernel({ modulesDir, env: { HUB_HEARTBEAT_TIMEOUT_MS: '60000' } });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await stopAllKernels();
});

describe('a module printing millions of tiny lines', () => {
  it('costs the kernel tens of MB, not hundreds', async () => {
    await floodPeak('warmup', 2);
    const base = rss();
    const peak = await floodPeak('tiny', 8);
    console.log(`kernel RSS ${Math.round(base / MB)} MB before, ${Math.round(peak / MB)} MB at most while taking in 8 MB of two-byte lines`);
    expect(peak - base).toBeLessThan(60 * MB);
    expect((await k.record('flooder')).state).toBe('running');
  }, 180_000);

  it('does not make the kernel buffer for a follower that stopped reading; the follower learns what it missed', async () => {
    const token = k.adminToken()!;
    let got = '';
    const s = connect(k.adminPort, '127.0.0.1');
    sockets.push(s);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    s.on('data', (d: Buffer) => { got += d.toString('utf8'); });
    s.write(`GET /api/v1/modules/flooder/logs?follow=1&lines=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await waitFor(() => got.startsWith('HTTP/1.1 200') || undefined, { what: 'the follow stream to start' });
    s.pause();
    const base = rss();
    const peak = await floodPeak('paused', 8);
    console.log(`kernel RSS ${Math.round(base / MB)} MB before, ${Math.round(peak / MB)} MB at most with a paused follower`);
    expect(peak - base).toBeLessThan(60 * MB);
    s.resume();
    await waitFor(() => /"msg":"… \d+ lines not sent here: this reader fell behind/.test(got) || undefined, { what: 'the missed-lines notice' });
  }, 180_000);
});
