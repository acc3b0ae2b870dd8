// The OS wall (issue 11, items 1-4). On this root machine the kernel gives every module's
// child its own uid/gid ("uid" isolation): a hostile module cannot signal the kernel, a
// sibling or its own PostgreSQL backend, and cannot read the kernel's secrets, even with
// Node's permission model switched off. HUB_ISOLATION=process forces the weaker tier, which
// still refuses permission-widening Workers, symlinks out of a module folder, and imports
// of files outside the module at compile time.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

const SECRET = 'pg-superuser-secret-7f3a';
const dirs: string[] = [];
let tdb: TestDatabase;

const evil = `import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
const attempt = (fn) => { try { fn(); return 'allowed'; } catch (e) { return e.code ?? e.message; } };
const inWorker = (options) => new Promise((resolve) => {
  let w;
  try {
    w = new Worker("const { parentPort, workerData } = require('worker_threads'); const fs = require('fs'); let r; try { r = fs.readFileSync(workerData, 'utf8'); } catch (e) { r = e.code; } parentPort.postMessage(r);", { eval: true, workerData: options.file, ...options.opts });
  } catch (e) { return resolve(e.code ?? e.message); }
  w.once('message', resolve);
  w.once('error', (e) => resolve(e.code ?? e.message));
});
// an env that lists no keys the first time it is enumerated (the guard's look) and
// NODE_OPTIONS afterwards (Node's own copy): red team, read HUB_DATA_DIR before the fix
const flipEnv = () => {
  let looks = 0;
  return new Proxy({}, {
    ownKeys: () => (looks++ === 0 ? [] : ['NODE_OPTIONS']),
    getOwnPropertyDescriptor: () => ({ value: '--allow-fs-read=*', enumerable: true, configurable: true }),
    get: (t, k) => (k === 'NODE_OPTIONS' ? '--allow-fs-read=*' : undefined),
  });
};
// a plain Worker (allowed) that starts a nested one with widened flags: red team, the guard
// ran in the main thread only, so the nested worker read HUB_DATA_DIR
const nested = (file) => new Promise((resolve) => {
  const inner = "const { parentPort, workerData } = require('worker_threads'); let r; try { r = require('fs').readFileSync(workerData, 'utf8'); } catch (e) { r = e.code; } parentPort.postMessage(r);";
  const code = "const { Worker, parentPort, workerData } = require('worker_threads'); let w; try { w = new Worker(" + JSON.stringify(inner) + ", { eval: true, workerData, env: { NODE_OPTIONS: '--allow-fs-read=*' } }); } catch (e) { parentPort.postMessage(e.code || e.message); } if (w) { w.once('message', (m) => parentPort.postMessage(m)); w.once('error', (e) => parentPort.postMessage(e.code || e.message)); }";
  const w = new Worker(code, { eval: true, workerData: file });
  w.once('message', (m) => { resolve(m); void w.terminate(); });
  w.once('error', (e) => resolve(e.code ?? e.message));
});
export default (router, ctx) => {
  router.get('/probe', async (req, res) => {
    // only where the OS wall is expected to hold: in process isolation this SIGKILL would succeed
    const backend = req.query.hard ? (await ctx.db.one('SELECT pg_backend_pid() AS pid')).pid : null;
    res.json({
      uid: process.getuid(),
      killKernel: attempt(() => process.kill(process.ppid, 0)),
      usr1Kernel: req.query.hard || req.query.usr1 ? attempt(() => process.kill(process.ppid, 'SIGUSR1')) : 'skipped',
      killSibling: req.query.hard ? attempt(() => process.kill(Number(req.query.sibling), 'SIGKILL')) : 'skipped',
      killBackend: backend ? attempt(() => process.kill(backend, 'SIGKILL')) : 'skipped',
      pgPassword: attempt(() => readFileSync(req.query.pgpw)),
      adminToken: attempt(() => readFileSync(req.query.token)),
      kernelEnviron: attempt(() => readFileSync('/proc/' + process.ppid + '/environ')),
      workerEnv: await inWorker({ file: req.query.pgpw, opts: { env: { NODE_OPTIONS: '--allow-fs-read=* --allow-child-process' } } }),
      workerExecArgv: await inWorker({ file: req.query.pgpw, opts: { execArgv: ['--allow-fs-read=*'] } }),
      workerEnvProxy: await inWorker({ file: req.query.pgpw, opts: { env: flipEnv() } }),
      nestedWorker: await nested(req.query.pgpw),
      dbStillWorks: (await ctx.db.one('SELECT 1 AS one')).one,
    });
  });
};`;

function secretFiles(dataDir: string): { pgpw: string; token: string } {
  mkdirSync(join(dataDir, 'pg'), { recursive: true });
  const pgpw = join(dataDir, 'pg', 'pg-password');
  const token = join(dataDir, 'admin-token');
  writeFileSync(pgpw, SECRET, { mode: 0o600 });
  writeFileSync(token, 'admin-token-secret', { mode: 0o600 });
  return { pgpw, token };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
});

afterAll(async () => {
  await stopAllKernels();
  await tdb?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('uid isolation (the kernel runs as root)', () => {
  let k: RunningKernel;
  let secrets: { pgpw: string; token: string };

  beforeAll(async () => {
    const modulesDir = tempDir('modules');
    const dataDir = tempDir('data');
    dirs.push(modulesDir, dataDir);
    writeModule(modulesDir, 'evil', { router: evil });
    writeModule(modulesDir, 'victim', { router: helloRouter, files: { 'templates/page.ejs': '<p><%= who %></p>' }, views: `export default (router, ctx) => router.get('/', async (req, res) => res.send(await ctx.render('page', { who: 'victim' })));` });
    // a CommonJS package from the hub's node_modules, imported through the build's node_modules link
    writeModule(modulesDir, 'cjsuser', { router: `import busboy from 'busboy';\nexport default (router) => router.get('/t', (req, res) => res.json({ type: typeof busboy }));` });
    secrets = secretFiles(dataDir);
    // Node's permission model off: what holds here is the OS wall alone
    k = await startKernel({ modulesDir, dataDir, databaseUrl: tdb.url, env: { HUB_CHILD_PERMISSIONS: 'false' } });
  });

  it('reports uid isolation in /health and in every record, and gives each module its own stable user', async () => {
    const health = await k.json('/health');
    expect(health.isolation).toBe('uid');
    expect((await k.record('evil')).isolation).toBe('uid');
    expect((await k.record('victim')).isolation).toBe('uid');
    expect(k.lines.filter((l) => /Isolation: /.test(l))).toHaveLength(1);
  });

  it('cannot signal the kernel, a sibling or its PostgreSQL backend, nor read the kernel\'s secrets', async () => {
    const victim = await k.record('victim');
    const q = new URLSearchParams({ hard: '1', sibling: String(victim.pid), pgpw: secrets.pgpw, token: secrets.token });
    const r = await k.json(`/api/v1/evil/probe?${q}`);
    expect(r).toMatchObject({
      killKernel: 'EPERM',
      usr1Kernel: 'EPERM',
      killSibling: 'EPERM',
      killBackend: 'EPERM',
      pgPassword: 'EACCES',
      adminToken: 'EACCES',
      kernelEnviron: 'EACCES',
      workerEnv: 'ERR_ACCESS_DENIED',
      workerExecArgv: 'ERR_ACCESS_DENIED',
      workerEnvProxy: 'EACCES',
      nestedWorker: 'ERR_ACCESS_DENIED',
      dbStillWorks: 1,
    });
    expect(r.uid).toBeGreaterThanOrEqual(200_000);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    // the victim, its templates (staged beside its build) and the kernel are untouched
    expect((await k.record('victim')).pid).toBe(victim.pid);
    expect(await (await k.get('/victim/')).text()).toBe('<p>victim</p>');
    expect(k.proc.exitCode).toBeNull();
  });

  it('still loads CommonJS packages (default export) from the hub\'s node_modules under its own uid', async () => {
    expect(await k.json('/api/v1/cjsuser/t')).toEqual({ type: 'function' });
  });

  it('keeps a module on the same uid across restarts, distinct from every other module', async () => {
    const before = (await k.json(`/api/v1/evil/probe?${new URLSearchParams({ sibling: '1', pgpw: '/x', token: '/x' })}`)).uid;
    expect((await k.admin('/api/v1/modules/evil/restart', { method: 'POST' })).status).toBe(200);
    const after = (await k.json(`/api/v1/evil/probe?${new URLSearchParams({ sibling: '1', pgpw: '/x', token: '/x' })}`)).uid;
    expect(after).toBe(before);
    const victim = await k.record('victim');
    const status = (await import('node:fs')).readFileSync(`/proc/${victim.pid}/status`, 'utf8');
    const victimUid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    expect(victimUid).toBeGreaterThanOrEqual(200_000);
    expect(victimUid).not.toBe(before);
  });
});

describe('process isolation (HUB_ISOLATION=process)', () => {
  let k: RunningKernel;
  let dataDir: string;

  beforeAll(async () => {
    const modulesDir = tempDir('modules');
    dataDir = tempDir('data');
    dirs.push(modulesDir, dataDir);
    writeModule(modulesDir, 'evil', { router: evil });
    writeModule(modulesDir, 'victim', { router: helloRouter });
    writeFileSync(join(dataDir, 'secret.txt'), SECRET);
    writeModule(modulesDir, 'bundler', { router: `import pw from ${JSON.stringify(join(dataDir, 'secret.txt'))} with { type: 'text' };\nexport default (router) => router.get('/pw', (req, res) => res.send(pw));` });
    writeModule(modulesDir, 'linker', { router: helloRouter });
    symlinkSync(dataDir, join(modulesDir, 'linker', 'data'));
    writeModule(modulesDir, 'innerlink', { router: helloRouter, files: { 'templates/a.txt': 'a' } });
    symlinkSync(join(modulesDir, 'innerlink', 'templates', 'a.txt'), join(modulesDir, 'innerlink', 'b.txt'));
    k = await startKernel({ modulesDir, dataDir, databaseUrl: tdb.url, env: { HUB_ISOLATION: 'process' } });
  });

  it('says so in one line at start and shows "process" in /health and the records', async () => {
    const health = await k.json('/health');
    expect(health.isolation).toBe('process');
    expect((await k.record('victim')).isolation).toBe('process');
    const lines = k.lines.filter((l) => /Isolation: /.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Isolation: process \(HUB_ISOLATION=process\).*signalling the kernel/);
  });

  it('cannot open the kernel\'s inspector with SIGUSR1: the kernel logs it and keeps serving', async () => {
    const r = await k.json(`/api/v1/evil/probe?${new URLSearchParams({ usr1: '1', sibling: '1', pgpw: '/x', token: '/x' })}`);
    expect(r.usr1Kernel).toBe('allowed'); // same OS user: the signal is delivered ...
    await k.waitForLog(/SIGUSR1 received and ignored/);
    // ... and nothing listens for an inspector client
    const { connect } = await import('node:net');
    const outcome = await new Promise<string>((resolve) => {
      const s = connect(9229, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve('open')));
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
    expect((await k.get('/health')).status).toBe(200);
  });

  it('refuses Workers whose env or execArgv would widen the permission model, through a Proxy env or a nested worker too', async () => {
    const r = await k.json(`/api/v1/evil/probe?${new URLSearchParams({ sibling: '999999999', pgpw: join(dataDir, 'secret.txt'), token: '/x' })}`);
    expect(r.workerEnv).toBe('ERR_ACCESS_DENIED');
    expect(r.workerExecArgv).toBe('ERR_ACCESS_DENIED');
    expect(r.workerEnvProxy).toBe('ERR_ACCESS_DENIED');
    expect(r.nestedWorker).toBe('ERR_ACCESS_DENIED');
    expect(r.pgPassword).toBe('ERR_ACCESS_DENIED');
    expect(JSON.stringify(r)).not.toContain(SECRET);
  });

  it('fails a module with a symlink leaving its folder, naming the link; links inside are fine', async () => {
    const rec = await k.record('linker');
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/modules\/linker\/data is a symlink to .*outside the module's folder/);
    expect((await k.record('innerlink')).state).toBe('running');
  });

  it('fails a module that imports a file outside its folder, without a byte of the file', async () => {
    const rec = await k.record('bundler');
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/imports a file outside its folder: .*secret\.txt/);
    expect(rec.last_error).not.toContain(SECRET);
    expect(rec.last_error).not.toContain('pg-superuser');
  });
});
