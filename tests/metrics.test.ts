// GET /metrics is valid Prometheus text, and its per-module numbers move with what happens:
// requests by status class, crashes by reason, restarts, and up/state when disabled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// values are Go floats: NaN and Inf in any letter case (prom-client writes `Nan` for an empty mean)
const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.]+(?:[eE][-+]?[0-9]+)?|[nN][aA][nN]|[+-]?[iI][nN][fF])$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** A strict reading of the text exposition format: every line is a comment, a TYPE/HELP or a sample of a declared family. */
function parseExposition(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      expect(types.has(type[1]!), `family ${type[1]} declared twice`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = SAMPLE_RE.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const name = m![1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((f) => types.has(f));
    expect(family, `sample ${name} has no # TYPE`).toBeDefined();
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(LABEL_RE)) labels[l[1]!] = l[2]!;
    samples.push({ name, labels, value: Number(m![3]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const res = await k.admin('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k2, v]) => x.labels[k2] === v));
  return s?.value;
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  return value(await scrape(), name, labels) ?? 0;
}

beforeAll(async () => {
  const modulesDir = tempDir('metrics');
  writeModule(modulesDir, 'alpha', {
    router: `export default (router) => {
  router.get('/hello', (req, res) => res.json({ ok: true }));
  router.get('/boom', () => { throw new Error('boom'); });
  router.get('/exit', (req, res) => { res.json({ bye: true }); setTimeout(() => process.exit(3), 20); });
  router.get('/kill', (req, res) => { res.json({ bye: true }); setTimeout(() => process.kill(process.pid, 'SIGKILL'), 20); });
  router.all('/any', (req, res) => res.json({ method: req.method }));
};`,
  });
  writeModule(modulesDir, 'beta', { router: helloRouter });
  writeModule(modulesDir, 'gamma', { router: helloRouter, manifest: { enabled: false } });
  k = await startKernel({ modulesDir, env: { HUB_BACKOFF_BASE_MS: '50', HUB_CRASH_LIMIT: '20' } });
});

afterAll(stopAllKernels);

describe('GET /metrics', () => {
  it('is valid Prometheus text with kernel process metrics and every module', async () => {
    const samples = await scrape();
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);
    expect(value(samples, 'hub_module_up', { module: 'alpha' })).toBe(1);
    expect(value(samples, 'hub_module_up', { module: 'beta' })).toBe(1);
    expect(value(samples, 'hub_module_up', { module: 'gamma' })).toBe(0);
    expect(value(samples, 'hub_module_state', { module: 'gamma', state: 'disabled' })).toBe(1);
    expect(value(samples, 'hub_module_state', { module: 'alpha', state: 'running' })).toBe(1);
    expect(value(samples, 'hub_module_state', { module: 'alpha', state: 'failed' })).toBe(0);
    for (const reason of ['exit', 'signal', 'hang', 'memory', 'start_timeout']) {
      expect(value(samples, 'hub_module_crashes_total', { module: 'alpha', reason })).toBe(0);
    }
    // heartbeat figures arrive with the first pong
    await waitFor(async () => (await metric('hub_module_memory_rss_bytes', { module: 'alpha' })) > 1_000_000, { what: 'child RSS' });
    const later = await scrape();
    expect(value(later, 'hub_module_cpu_seconds_total', { module: 'alpha' })).toBeGreaterThan(0);
    expect(value(later, 'hub_module_event_loop_lag_seconds', { module: 'alpha' })).toBeGreaterThanOrEqual(0);
    // a module with no child has no memory series rather than a made-up zero
    expect(value(later, 'hub_module_memory_rss_bytes', { module: 'gamma' })).toBeUndefined();
  });

  it('counts requests by module, method and status class, and times them', async () => {
    const before = await scrape();
    const at = (s: Sample[], status_class: string, method = 'GET') =>
      value(s, 'hub_module_requests_total', { module: 'alpha', method, status_class }) ?? 0;
    const count = (s: Sample[]) => value(s, 'hub_module_request_duration_seconds_count', { module: 'alpha', method: 'GET' }) ?? 0;
    for (let i = 0; i < 3; i++) expect((await k.get('/api/v1/alpha/hello')).status).toBe(200);
    expect((await k.get('/api/v1/alpha/nope')).status).toBe(404);
    expect((await k.get('/api/v1/alpha/boom')).status).toBe(500);
    expect((await k.get('/api/v1/alpha/any', { method: 'PROPFIND' })).status).toBe(200);
    const after = await scrape();
    expect(at(after, '2xx') - at(before, '2xx')).toBe(3);
    expect(at(after, '4xx') - at(before, '4xx')).toBe(1);
    expect(at(after, '5xx') - at(before, '5xx')).toBe(1);
    // methods outside the fixed list share one label value
    expect(at(after, '2xx', 'OTHER') - at(before, '2xx', 'OTHER')).toBe(1);
    expect(after.some((s) => s.labels.method === 'PROPFIND')).toBe(false);
    expect(count(after) - count(before)).toBe(5);
    const inf = value(after, 'hub_module_request_duration_seconds_bucket', { module: 'alpha', method: 'GET', le: '+Inf' });
    expect(inf).toBe(count(after));
    // the gateway's own 503 for a stopped module is a request of that module too
    expect((await k.get('/api/v1/gamma/hello')).status).toBe(503);
    expect(await metric('hub_module_requests_total', { module: 'gamma', method: 'GET', status_class: '5xx' })).toBe(1);
    // kernel routes are not module traffic
    expect((await scrape()).some((s) => s.name === 'hub_module_requests_total' && !['alpha', 'beta', 'gamma'].includes(s.labels.module!))).toBe(false);
  });

  it('counts a crash by its reason and the restart that follows', async () => {
    const restarts = await metric('hub_module_restarts_total', { module: 'alpha' });
    const exits = await metric('hub_module_crashes_total', { module: 'alpha', reason: 'exit' });
    const cpuBefore = await metric('hub_module_cpu_seconds_total', { module: 'alpha' });
    const pid = (await k.record('alpha')).pid;
    await k.get('/api/v1/alpha/exit');
    await waitFor(async () => {
      const r = await k.record('alpha');
      return r.state === 'running' && r.pid !== pid;
    }, { what: 'alpha back after exit' });
    expect(await metric('hub_module_crashes_total', { module: 'alpha', reason: 'exit' })).toBe(exits + 1);
    expect(await metric('hub_module_restarts_total', { module: 'alpha' })).toBe(restarts + 1);
    expect(await metric('hub_module_up', { module: 'alpha' })).toBe(1);

    const signals = await metric('hub_module_crashes_total', { module: 'alpha', reason: 'signal' });
    const pid2 = (await k.record('alpha')).pid;
    await k.get('/api/v1/alpha/kill');
    await waitFor(async () => {
      const r = await k.record('alpha');
      return r.state === 'running' && r.pid !== pid2;
    }, { what: 'alpha back after SIGKILL' });
    expect(await metric('hub_module_crashes_total', { module: 'alpha', reason: 'signal' })).toBe(signals + 1);
    expect(await metric('hub_module_restarts_total', { module: 'alpha' })).toBe(restarts + 2);
    // CPU time is summed over the module's children, so a new child does not make it go down
    await waitFor(async () => (await metric('hub_module_cpu_seconds_total', { module: 'alpha' })) >= cpuBefore, { what: 'cpu counter' });
  });

  it('counts a requested restart without counting a crash', async () => {
    const before = await scrape();
    const res = await k.admin('/api/v1/modules/beta/restart', { method: 'POST' });
    expect(res.status).toBe(200);
    const after = await scrape();
    expect(value(after, 'hub_module_restarts_total', { module: 'beta' })).toBe((value(before, 'hub_module_restarts_total', { module: 'beta' }) ?? 0) + 1);
    const crashes = (s: Sample[]) => s.filter((x) => x.name === 'hub_module_crashes_total' && x.labels.module === 'beta').reduce((n, x) => n + x.value, 0);
    expect(crashes(after)).toBe(crashes(before));
    expect(value(after, 'hub_module_up', { module: 'beta' })).toBe(1);
  });

  it('flips up to 0 and the state to disabled when a module is disabled', async () => {
    expect((await k.admin('/api/v1/modules/beta/disable', { method: 'POST' })).status).toBe(200);
    const samples = await scrape();
    expect(value(samples, 'hub_module_up', { module: 'beta' })).toBe(0);
    expect(value(samples, 'hub_module_state', { module: 'beta', state: 'disabled' })).toBe(1);
    expect(value(samples, 'hub_module_state', { module: 'beta', state: 'running' })).toBe(0);
    expect(value(samples, 'hub_module_memory_rss_bytes', { module: 'beta' })).toBeUndefined();
    expect((await k.admin('/api/v1/modules/beta/enable', { method: 'POST' })).status).toBe(200);
    expect(await metric('hub_module_up', { module: 'beta' })).toBe(1);
  });
});
