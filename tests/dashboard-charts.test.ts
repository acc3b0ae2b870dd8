// The chart history (kernel/metrics-history.ts) and its charts (issue 18, item 1): a real
// kernel samples every 300 ms; load driven through the gateway shows in the admin API's
// history (request and 5xx rate, p95, CPU, RSS) and in the dashboard's uPlot charts in
// Chromium, whose data moves as new points arrive; a restart shows as a mark on the time
// axis; the history is behind the admin credential and absent from the public origin; the
// pages keep their strict CSP (no console errors, no CSP violation).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { HUB_ROOT } from '../shared/paths.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

const INTERVAL_MS = 300;

// answers, fails with a 500, burns ~40 ms of CPU, or exits (a crash)
const busyRouter = `export default (router) => {
  router.get('/hello', (req, res) => res.json({ ok: true }));
  router.get('/fail', (req, res) => res.status(500).json({ error: 'boom', message: 'on purpose' }));
  router.get('/spin', (req, res) => { const end = Date.now() + 40; let x = 0; while (Date.now() < end) x++; res.json({ x }); });
  router.get('/exit', (req, res) => { res.json({ bye: true }); setTimeout(() => process.exit(3), 10); });
};`;

interface Points {
  t: number[];
  req_per_s: (number | null)[];
  err_per_s: (number | null)[];
  p50_ms: (number | null)[];
  p95_ms: (number | null)[];
  cpu_percent: (number | null)[];
  rss_bytes: (number | null)[];
}
interface History {
  module: string;
  window: string;
  interval_ms: number;
  points: Points;
  events: { t: number[]; kind: string[] };
}

let k: RunningKernel;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  const modulesDir = tempDir('charts');
  writeModule(modulesDir, 'busy', { router: busyRouter, manifest: { description: 'Load target' } });
  writeModule(modulesDir, 'quiet', { router: busyRouter, manifest: { description: 'Nobody calls it' } });
  k = await startKernel({ modulesDir, env: { HUB_HISTORY_INTERVAL_MS: String(INTERVAL_MS) } });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stopAllKernels();
});

/** `n` requests to the module through the gateway, 8 at a time; answers' statuses. */
async function load(path: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        const res = await k.get(path);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }),
  );
  return statuses;
}

const history = async (name: string, query = ''): Promise<History> => {
  const res = await k.admin(`/api/v1/modules/${name}/history${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as History;
};
const sum = (xs: (number | null)[]) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);
const max = (xs: (number | null)[]) => Math.max(0, ...xs.map((x) => x ?? 0));

describe('chart history on the admin origin', () => {
  it('records what the gateway measured: requests, 5xx, latency, CPU and memory', async () => {
    const before = await waitFor(async () => {
      const h = await history('busy');
      return h.points.t.length > 0 ? h : undefined;
    }, { what: 'a first point' });
    expect(before.interval_ms).toBe(INTERVAL_MS);
    const statuses = [...(await load('/api/v1/busy/hello', 150)), ...(await load('/api/v1/busy/fail', 30)), ...(await load('/api/v1/busy/spin', 40))];
    expect(statuses.filter((s) => s === 500)).toHaveLength(30);

    // every answer lands in exactly one point: each rate times its point's interval adds up to the count
    const from = before.points.t.at(-1) ?? 0;
    const counted = (h: History) =>
      h.points.req_per_s.reduce<number>((a, r, i) => (i > 0 && h.points.t[i]! > from ? a + (r ?? 0) * ((h.points.t[i]! - h.points.t[i - 1]!) / 1000) : a), 0);
    const after = await waitFor(
      async () => {
        const h = await history('busy');
        return Math.round(counted(h)) >= 220 ? h : undefined;
      },
      { what: '220 requests in the history', timeoutMs: 30_000 },
    );
    expect(Math.round(counted(after))).toBe(220);
    const p = after.points;
    expect(p.t.length).toBeGreaterThan(0);
    expect(p.t.every((t, i) => i === 0 || t > p.t[i - 1]!)).toBe(true);
    expect(max(p.err_per_s)).toBeGreaterThan(0);
    // the /spin answers took at least 40 ms; p95 of some point shows it
    expect(max(p.p95_ms)).toBeGreaterThan(30);
    expect(max(p.p50_ms)).toBeGreaterThan(0);
    expect(max(p.cpu_percent)).toBeGreaterThan(1);
    expect(max(p.rss_bytes)).toBeGreaterThan(10 * 1024 * 1024);

    // nobody called `quiet`: points, all with zero requests, and its own memory
    const quiet = await history('quiet');
    expect(quiet.points.t.length).toBeGreaterThan(0);
    expect(sum(quiet.points.req_per_s)).toBe(0);
    expect(max(quiet.points.rss_bytes)).toBeGreaterThan(10 * 1024 * 1024);

    // the all-modules form and `last`
    const all = (await (await k.admin('/api/v1/history?window=1h&last=2')).json()) as { window: string; modules: Record<string, History> };
    expect(Object.keys(all.modules).sort()).toEqual(['busy', 'quiet']);
    expect(all.modules.busy!.points.t.length).toBe(2);
    expect(Object.keys(all.modules.busy!.points).sort()).toEqual(['cpu_percent', 'err_per_s', 'p50_ms', 'p95_ms', 'req_per_s', 'rss_bytes', 't']);
  });

  it('keeps the history behind the admin credential, on the admin origin only, and refuses bad queries', async () => {
    expect((await fetch(`${k.adminUrl}/api/v1/history`)).status).toBe(401);
    expect((await fetch(`${k.adminUrl}/api/v1/modules/busy/history`)).status).toBe(401);
    const pub = await k.get('/api/v1/history', { headers: { authorization: `Bearer ${k.adminToken()}` } });
    expect(pub.status).toBe(404);
    const bad = await k.admin('/api/v1/history?window=2h');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_request', message: expect.stringContaining('window must be one of 1h, 24h') });
    expect((await k.admin('/api/v1/modules/busy/history?since=yesterday')).status).toBe(400);
    expect((await k.admin('/api/v1/modules/nosuch/history')).status).toBe(404);
  });

  it('marks a crash and its restart, and a requested restart, on the time axis; CPU is in the module record', async () => {
    const rec = await k.record('busy');
    expect(typeof rec.cpu_percent).toBe('number');
    await (await k.get('/api/v1/busy/exit')).arrayBuffer();
    const crashed = await waitFor(async () => {
      const x = await history('busy');
      return x.events.kind.includes('crash') && x.events.kind.includes('restart') ? x : undefined;
    }, { what: 'crash and restart events' });
    expect(crashed.events.kind.indexOf('crash')).toBeLessThan(crashed.events.kind.indexOf('restart'));
    await k.waitForState('busy', 'running');
    const res = await k.admin('/api/v1/modules/busy/restart', { method: 'POST' });
    expect(res.ok).toBe(true);
    const h = await waitFor(async () => {
      const x = await history('busy');
      return x.events.kind.filter((kind) => kind === 'restart').length === 2 ? x : undefined;
    }, { what: 'a second restart event' });
    expect(h.events.t.at(-1)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('charts in Chromium', () => {
  const block = (name: string) => page.locator(`#charts [data-chart-module="${name}"]`);
  const num = async (name: string, attr: string) => Number(await block(name).getAttribute(attr));

  it('draws every module live on the dashboard: new points arrive and the request rate rises with load', async () => {
    await page.goto(`${k.adminUrl}/`);
    await page.fill('#token', k.adminToken()!);
    await page.locator('form.login-form button[type="submit"]').click();
    await page.waitForURL(`${k.adminUrl}/`);
    for (const name of ['busy', 'quiet']) {
      await waitFor(async () => (await num(name, 'data-points')) > 0, { what: `${name} points on the page` });
      // five charts, each a uPlot canvas
      expect(await block(name).locator('figure.chart .uplot canvas').count()).toBe(5);
    }
    const lastT = await num('busy', 'data-last-t');
    // let the page see a quiet stretch first, so the rise below is this load's
    await waitFor(async () => (await num('busy', 'data-req-last')) === 0, { what: 'a quiet point', timeoutMs: 30_000 });

    // load goes on until the page shows it: a burst that ends between two of the page's polls
    // would be followed by a quiet point, and the page's latest value would be 0 again
    let driving = true;
    const driver = (async () => {
      while (driving) await load('/api/v1/busy/hello', 40);
    })();
    try {
      await waitFor(async () => (await num('busy', 'data-req-last')) > 0, { what: 'the request rate on the chart to rise', timeoutMs: 30_000 });
    } finally {
      driving = false;
      await driver;
    }
    expect(await num('busy', 'data-last-t')).toBeGreaterThan(lastT);
    expect(await num('busy', 'data-req-max')).toBeGreaterThan(1);
    // the caption shows the latest value; the page's data is what the API holds
    const api = await history('busy');
    expect(api.points.t).toContain(await num('busy', 'data-last-t'));
    expect(await num('quiet', 'data-req-max')).toBe(0);

    // a restart appears as a mark
    await k.admin('/api/v1/modules/quiet/restart', { method: 'POST' });
    await waitFor(async () => ((await block('quiet').getAttribute('data-events')) ?? '').split(',').includes('restart'), { what: 'the restart mark on the page' });
    await waitFor(async () => (await num('quiet', 'data-points')) > 2, { what: 'points around the restart' });

    const shot = process.env.UPDATE_SCREENSHOT === '1' ? join(HUB_ROOT, 'docs', 'dashboard.png') : join(tempDir('shot'), 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
  });

  it("shows the same charts larger on a module's page, with a 1 h / 24 h switch", async () => {
    await page.goto(`${k.adminUrl}/modules/busy`);
    await waitFor(async () => (await num('busy', 'data-points')) > 0, { what: 'points on the module page' });
    const canvas = page.locator('#charts figure.chart[data-chart="req"] .uplot canvas').first();
    const box = await canvas.boundingBox();
    expect(box!.height).toBeGreaterThan(120);
    expect(await block('busy').getAttribute('data-events')).toContain('restart');

    await page.locator('#charts button[data-window="24h"]').click();
    await waitFor(async () => (await page.locator('#charts').getAttribute('data-window')) === '24h', { what: 'the 24 h window' });
    expect(await page.locator('#charts button[data-window="24h"]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('[data-charts-window-label]').textContent()).toBe('24 hours');
    // the 24 h points come one a minute: the restart mark is there before the first one
    await waitFor(async () => ((await block('busy').getAttribute('data-events')) ?? '').includes('restart'), { what: 'the restart mark in the 24 h window' });
    expect(await page.locator('#charts figure.chart').count()).toBe(5);

    // back to the hour for the README's picture of a module page
    await page.locator('#charts button[data-window="1h"]').click();
    await waitFor(async () => (await num('busy', 'data-points')) > 0, { what: 'points again in the 1 h window' });
    const shot = process.env.UPDATE_SCREENSHOT === '1' ? join(HUB_ROOT, 'docs', 'module-charts.png') : join(tempDir('shot'), 'module-charts.png');
    await page.locator('#charts').screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(5_000);
    expect(problems).toEqual([]);
  });
});
