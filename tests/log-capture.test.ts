// Per-module log capture: a child that prints 10,000 numbered lines and then dies of an
// uncaught error leaves every line and the stack trace in HUB_DATA_DIR/logs/<name>.log, in
// order. The logs API serves recent lines (past the in-memory ring from the file), follows
// live as NDJSON and as server-sent events, and rotation never loses or splits a line.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernelLogger, RotatingFile } from '../kernel/logs.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

const N = 10_000;

// /spew answers, then prints `n` numbered lines and throws outside any request: the
// child dies with the stack trace on stderr, right behind the last numbered line.
const spewer = `export default (router) => {
  router.get('/spew', (req, res) => {
    const n = Number(req.query.n);
    const tag = String(req.query.tag);
    res.json({ ok: true });
    setImmediate(() => {
      for (let i = 1; i <= n; i++) console.log(tag + ' line ' + i + ' of ' + n);
      throw new Error(tag + ' gave up after ' + n + ' lines');
    });
  });
  router.get('/say', (req, res) => {
    console.log(String(req.query.text));
    res.json({ ok: true });
  });
};`;

interface Entry { msg: string; module: string; pid: number; level: number; time: string; stream?: string }

function entriesOf(file: string): Entry[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
}

/** Numbered lines of one tag must be exactly 1..n, in order. */
function expectAllNumbered(msgs: string[], tag: string, n: number): void {
  const numbers = msgs.filter((m) => m.startsWith(`${tag} line `)).map((m) => Number(/ line (\d+) of/.exec(m)![1]));
  expect(numbers.length).toBe(n);
  expect(numbers.every((v, i) => v === i + 1)).toBe(true);
}

async function readStream(res: Response, until: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!until(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

afterAll(stopAllKernels);

describe('a chatty child that crashes', () => {
  let k: RunningKernel;
  let logFile: string;
  beforeAll(async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'spewer', { router: spewer });
    k = await startKernel({ modulesDir });
    logFile = join(k.dataDir, 'logs', 'spewer.log');
    const firstPid = (await k.record('spewer')).pid;
    expect((await k.get(`/api/v1/spewer/spew?n=${N}&tag=first`)).status).toBe(200);
    // the supervisor brings up a new child once the old one is gone
    await waitFor(async () => {
      const r = await k.record('spewer');
      return r.state === 'running' && r.pid !== firstPid;
    }, { timeoutMs: 60_000, what: 'spewer restarted after its crash' });
  });

  it('keeps every line and the stack trace in the log file, in order', async () => {
    const entries = await waitFor(() => {
      const all = existsSync(logFile) ? entriesOf(logFile) : [];
      return all.some((e) => /^\s+at /.test(e.msg)) && all.some((e) => e.msg === `first line ${N} of ${N}`) ? all : undefined;
    }, { what: 'the numbered lines and the stack trace in spewer.log' });
    const msgs = entries.map((e) => e.msg);
    expectAllNumbered(msgs, 'first', N);
    const errorAt = msgs.findIndex((m) => m.includes(`Error: first gave up after ${N} lines`));
    expect(errorAt).toBeGreaterThanOrEqual(0);
    expect(entries[errorAt]!.stream).toBe('stderr');
    expect(msgs.slice(errorAt + 1).some((m) => /^\s+at .*router\.js/.test(m))).toBe(true);
    // every entry is tagged with the module and the pid of the child that wrote it
    expect(new Set(entries.map((e) => e.module))).toEqual(new Set(['spewer']));
  });

  it('serves the last lines as NDJSON, from the file beyond the in-memory ring', async () => {
    const res = await k.admin('/api/v1/modules/spewer/logs?lines=20');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).split('\n').filter(Boolean);
    expect(lines).toHaveLength(20);
    for (const l of lines) expect(JSON.parse(l).module).toBe('spewer');

    const big = await k.admin('/api/v1/modules/spewer/logs?lines=5000');
    const msgs = (await big.text()).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Entry).msg);
    expect(msgs).toHaveLength(5000);
    const numbers = msgs.filter((m) => m.startsWith('first line ')).map((m) => Number(/ line (\d+) of/.exec(m)![1]));
    expect(numbers.length).toBeGreaterThan(4000);
    expect(numbers.every((v, i) => i === 0 || v === numbers[i - 1]! + 1)).toBe(true);
    expect(numbers[numbers.length - 1]).toBe(N);

    expect((await k.admin('/api/v1/modules/spewer/logs?lines=-1')).status).toBe(400);
  });

  it('follows new lines live as NDJSON', async () => {
    const res = await k.admin('/api/v1/modules/spewer/logs?lines=0&follow=1');
    expect(res.status).toBe(200);
    const reading = readStream(res, (t) => t.includes('hello-ndjson-live'));
    await waitFor(async () => (await k.get('/api/v1/spewer/say?text=hello-ndjson-live')).ok);
    const text = await reading;
    const live = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Entry);
    expect(live.map((e) => e.msg)).toContain('hello-ndjson-live');
  });

  it('follows as server-sent events for Accept: text/event-stream', async () => {
    const res = await k.admin('/api/v1/modules/spewer/logs?lines=1&follow=1', { headers: { accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reading = readStream(res, (t) => t.includes('hello-sse-live'));
    await k.get('/api/v1/spewer/say?text=hello-sse-live');
    const text = await reading;
    const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)) as Entry);
    expect(events.map((e) => e.msg)).toContain('hello-sse-live');
  });
});

describe('rotation', () => {
  it('rotates by size without losing or splitting a line', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'spewer', { router: spewer });
    const maxBytes = 64 * 1024;
    const k = await startKernel({ modulesDir, env: { HUB_LOG_MAX_BYTES: String(maxBytes), HUB_LOG_FILES: '100' } });
    const dir = join(k.dataDir, 'logs');
    await k.get(`/api/v1/spewer/spew?n=${N}&tag=rot`);
    const files = await waitFor(() => {
      const names = readdirSync(dir).filter((f) => f.startsWith('spewer.log'));
      const all = names.flatMap((f) => readFileSync(join(dir, f), 'utf8'));
      return all.some((t) => t.includes(`rot line ${N} of ${N}`)) && all.some((t) => t.includes('gave up')) ? names : undefined;
    }, { timeoutMs: 60_000, what: 'all numbered lines written' });
    expect(files.length).toBeGreaterThan(10);
    // oldest first: spewer.log.<highest> ... spewer.log.1, spewer.log
    const ordered = files.sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
    const msgs: string[] = [];
    for (const f of ordered) {
      expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(maxBytes);
      msgs.push(...entriesOf(join(dir, f)).map((e) => e.msg)); // JSON.parse throws on a split line
    }
    expectAllNumbered(msgs, 'rot', N);
    await k.stop();
  }, 120_000);

  it('keeps only the configured number of rotated files', async () => {
    const dir = tempDir('rotate');
    const file = new RotatingFile(join(dir, 'x.log'), { maxBytes: 1024, keep: 2 }, (e) => { throw e; });
    for (let i = 0; i < 500; i++) file.write(`line ${i}\n`);
    file.close();
    expect(readdirSync(dir).sort()).toEqual(['x.log', 'x.log.1', 'x.log.2']);
    const all = ['x.log.2', 'x.log.1', 'x.log'].flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    // the newest lines survive, consecutive and whole
    expect(all[all.length - 1]).toBe('line 499');
    expect(all.every((l, i) => i === 0 || Number(l.slice(5)) === Number(all[i - 1]!.slice(5)) + 1)).toBe(true);
  });
});

describe("the kernel's app.log", () => {
  it('gets every kernel log line as JSON', async () => {
    const dataDir = tempDir('data');
    const log = createKernelLogger({ dataDir, level: 'info', pretty: false, name: 'kernel-test' });
    log.info('first app line');
    log.error({ err: new Error('kaboom') }, 'second app line');
    const file = join(dataDir, 'logs', 'app.log');
    const lines = await waitFor(() => {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return text.includes('second app line') ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) : undefined;
    });
    expect(lines.map((l: { msg: string }) => l.msg)).toEqual(['first app line', 'second app line']);
    expect(lines[1].err.stack).toMatch(/kaboom/);
  });
});
