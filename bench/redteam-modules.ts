// The modules the red-team run installs: `victim` (a table with three rows that must survive
// everything) and `evil`, whose routes each try one thing a hostile module author would,
// from inside its own child, and report what happened instead of doing damage: signals are
// sent as signal 0 (a permission probe that kills nothing), reads return only a length.
// `evilimport` and `evillink` are broken on purpose: the kernel must keep them out.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, writeModule } from '../tests/helpers/modules.js';

export const VICTIM_ROWS = 3;

const victimRouter = `export default (router, ctx) => {
  router.get('/count', async (req, res) => {
    const row = await ctx.db.one('SELECT count(*)::int AS n FROM victim_data');
    res.json({ rows: row.n, pid: process.pid });
  });
  router.get('/ping', (req, res) => res.json({ pid: process.pid }));
};`;

/**
 * Each GET /api/v1/evil/try/<attempt> runs one attempt and answers
 * {"done": boolean, "code"?: string, "detail"?: string}: done=true means the module got
 * what it tried for; code is the error it met instead (EPERM, ERR_ACCESS_DENIED, 401…).
 */
const evilRouter = `import { readFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import pg from 'pg';

const fail = (e) => ({ done: false, code: String(e && (e.code || e.name) || 'error'), detail: String(e && e.message || e).slice(0, 200) });
const signal = (pid, sig = 0) => { try { process.kill(Number(pid), sig); return { done: true }; } catch (e) { return fail(e); } };
const hoard = [];

export default (router, ctx) => {
  const attempts = {
    // item 1: signals to the kernel, a sibling, our own PostgreSQL backend
    'signal-kernel': () => signal(process.ppid),
    'signal-sibling': (q) => signal(q.pid),
    'signal-backend': async () => {
      const r = await ctx.db.one('SELECT pg_backend_pid() AS pid');
      return signal(r.pid);
    },
    'open-inspector': async () => {
      try { process.kill(process.ppid, 'SIGUSR1'); } catch (e) { /* reported by signal-kernel */ }
      await new Promise((r) => setTimeout(r, 300));
      return await new Promise((resolve) => {
        const s = connect(9229, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve({ done: true, detail: 'inspector answers on 9229' }); });
        s.once('error', (e) => resolve(fail(e)));
      });
    },
    // items 2-3: read the kernel's files, directly and through a worker with widened flags
    'read-file': (q) => {
      try { return { done: true, detail: 'read ' + readFileSync(q.path).length + ' bytes' }; } catch (e) { return fail(e); }
    },
    'worker-escape': (q) => new Promise((resolve) => {
      let w;
      try {
        w = new Worker("const { parentPort, workerData } = require('node:worker_threads'); try { parentPort.postMessage({ done: true, detail: 'read ' + require('node:fs').readFileSync(workerData).length + ' bytes' }); } catch (e) { parentPort.postMessage({ done: false, code: String(e.code || e.name), detail: String(e.message).slice(0, 200) }); }",
          { eval: true, workerData: q.path, env: { NODE_OPTIONS: '--allow-fs-read=* --allow-child-process' }, execArgv: ['--allow-fs-read=*'] });
      } catch (e) { return resolve(fail(e)); }
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', (e) => resolve(fail(e)));
    }),
    // item 2: a plain Worker (allowed) starting a nested one with widened flags
    'worker-nested': (q) => new Promise((resolve) => {
      const inner = "const { parentPort, workerData } = require('node:worker_threads'); try { parentPort.postMessage({ done: true, detail: 'read ' + require('node:fs').readFileSync(workerData).length + ' bytes' }); } catch (e) { parentPort.postMessage({ done: false, code: String(e.code || e.name), detail: String(e.message).slice(0, 200) }); }";
      const outer = "const { Worker, parentPort, workerData } = require('node:worker_threads'); let w; try { w = new Worker(" + JSON.stringify(inner) + ", { eval: true, workerData, env: { NODE_OPTIONS: '--allow-fs-read=*' } }); } catch (e) { parentPort.postMessage({ done: false, code: String(e.code || e.name), detail: String(e.message).slice(0, 200) }); } if (w) { w.once('message', (m) => parentPort.postMessage(m)); w.once('error', (e) => parentPort.postMessage({ done: false, code: String(e.code || e.name), detail: String(e.message).slice(0, 200) })); }";
      let w;
      try { w = new Worker(outer, { eval: true, workerData: q.path }); } catch (e) { return resolve(fail(e)); }
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', (e) => resolve(fail(e)));
    }),
    // item 5 and 11: the admin API and another module's port, from inside the child
    'http': async (q) => {
      try {
        const r = await fetch(q.url, { method: q.method || 'GET', headers: q.origin ? { origin: q.origin } : {} });
        const ok = r.status >= 200 && r.status < 300;
        return { done: ok, code: String(r.status), detail: (await r.text()).slice(0, 200) };
      } catch (e) { return fail(e); }
    },
    // item 6: forge another kernel's decision
    'notify': async (q) => {
      try {
        await ctx.db.query("SELECT pg_notify('hub_module_state', $1)", [JSON.stringify({ module: q.module, enabled: false, kernel: 'forged' })]);
        return { done: true, detail: 'notification sent (the kernel must treat it as a hint only)' };
      } catch (e) { return fail(e); }
    },
    // item 7: hold the kernel's (old) advisory lock keys for a while
    'hold-locks': async (q) => {
      const ms = Number(q.ms || 8000);
      try {
        let got = [];
        const held = ctx.db.transaction(async (tx) => {
          for (const key of [1, 2]) {
            const r = await tx.one('SELECT pg_try_advisory_xact_lock(1213547008, $1) AS ok', [key]);
            if (r.ok) got.push(key);
          }
          await tx.query('SELECT pg_sleep($1)', [ms / 1000]);
        });
        held.catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200));
        return { done: got.length > 0, detail: 'holding advisory keys [' + got.join(',') + '] for ' + ms + ' ms' };
      } catch (e) { return fail(e); }
    },
    // item 8: exhaust the kernel through logs, docs and IPC
    'log-flood': (q) => {
      const lines = Number(q.lines || 20), mb = Number(q.mb || 10);
      const line = 'x'.repeat(mb * 1024 * 1024) + '\\n';
      for (let i = 0; i < lines; i++) process.stdout.write(line);
      return { done: true, detail: lines + ' lines of ' + mb + ' MB written' };
    },
    'docs-bloat': (q) => {
      const mb = Number(q.mb || 100);
      for (let i = 0; i < 2; i++) ctx.docs('get', '/bloat' + i, { description: 'd'.repeat(mb * 1024 * 1024), security: [{ adminToken: [] }] });
      return { done: true, detail: '2 descriptions of ' + mb + ' MB declared' };
    },
    // item 10: borrow the kernel's security scheme so Swagger's "Try it out" sends the admin token here
    'docs-borrow': () => {
      ctx.docs('get', '/try/:attempt', { summary: 'try an attempt', security: [{ adminToken: [] }] });
      return { done: true, detail: 'operation marked with adminToken' };
    },
    'ipc-bloat': (q) => {
      const mb = Number(q.mb || 150);
      const msg = { type: 'pong', seq: 1, stats: { rss: 1, heapUsed: 1, loopLagMs: 0, cpuMicros: 0 }, pad: 'p'.repeat(mb * 1024 * 1024) };
      try {
        if (process.send) process.send(msg);
        else writeSync(3, JSON.stringify(msg) + '\\n');
        return { done: true, detail: mb + ' MB message sent' };
      } catch (e) { return fail(e); }
    },
    // item 9: report a small heap while holding a large RSS
    'memory-lie': (q) => {
      const mb = Number(q.mb || 367);
      if (process.send) {
        const real = process.send.bind(process);
        process.send = (m, ...rest) => real(m && m.type === 'pong' ? { ...m, stats: { ...m.stats, rss: 50 * 1048576, heapUsed: 10 * 1048576 } } : m, ...rest);
      }
      for (let i = 0; i < mb; i++) hoard.push(Buffer.alloc(1048576, 1));
      return { done: true, detail: 'holding ' + mb + ' MB off-heap while reporting 50 MB' };
    },
    // item 13: log in as the server's superuser
    'pg-superuser': async () => {
      const where = await ctx.db.one('SELECT inet_server_port() AS port, current_database() AS db');
      const c = new pg.Client({ host: '127.0.0.1', port: where.port, user: 'postgres', database: where.db, password: 'wrong', connectionTimeoutMillis: 3000 });
      try {
        await c.connect();
        const r = await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
        return { done: r.rows[0].rolsuper === true, detail: 'logged in as postgres' };
      } catch (e) { return fail(e); } finally { await c.end().catch(() => undefined); }
    },
    // item 14: terminal control sequences in log output
    'ansi-log': () => {
      const evil = '\\x1b]0;pwned-title\\x07\\x1b[2Jcleared-screen marker-ansi';
      ctx.log.info(evil);
      console.log(evil);
      return { done: true, detail: 'logged escape sequences' };
    },
  };
  router.get('/try/:attempt', async (req, res) => {
    const fn = attempts[req.params.attempt];
    if (!fn) return res.status(404).json({ error: 'no such attempt' });
    try { res.json(await fn(req.query)); } catch (e) { res.json(fail(e)); }
  });
};`;

export interface RedteamModules {
  modulesDir: string;
  /** Files inside the kernel's data folder a module must never read (paths relative to it). */
  secretFiles: string[];
}

/** Writes victim, evil, evilimport (compile-time import of a kernel file), evilmap (a source map naming one) and evillink (a symlink out). */
export function writeRedteamModules(dataDir: string): RedteamModules {
  const modulesDir = tempDir('redteam-modules');
  writeModule(modulesDir, 'victim', {
    router: victimRouter,
    files: {
      'migrations/001_init.sql': `CREATE TABLE victim_data (id serial PRIMARY KEY, v text);\nINSERT INTO victim_data (v) VALUES ('a'), ('b'), ('c');\n`,
    },
  });
  writeModule(modulesDir, 'evil', { router: evilRouter });
  writeModule(modulesDir, 'evilmem', {
    manifest: { max_memory_mb: 100 },
    router: evilRouter,
  });
  // item 4: the kernel's bundler must not inline a file from outside the module's folder
  writeModule(modulesDir, 'evilimport', {
    router: `import secret from ${JSON.stringify(join(dataDir, 'admin-token'))} with { type: 'text' };\nexport default (router) => { router.get('/leak', (req, res) => res.json({ secret })); };`,
  });
  // item 4 by another door: a source map in the module whose sources name the admin token;
  // esbuild would inline it into the bundle, which the module's own child can read
  writeModule(modulesDir, 'evilmap', {
    router: `import { readFileSync } from 'node:fs';\nexport default (router) => { router.get('/map', (req, res) => res.type('text/plain').send(readFileSync(new URL(import.meta.url), 'utf8'))); };\n//# sourceMappingURL=leak.map\n`,
    files: { 'backend/leak.map': JSON.stringify({ version: 3, sources: [join(dataDir, 'admin-token')], mappings: 'AAAA' }) },
  });
  // item 3: a link from the module's folder to the kernel's data folder
  const link = writeModule(modulesDir, 'evillink', { router: `export default (router) => { router.get('/ping', (req, res) => res.json({})); };` });
  mkdirSync(dataDir, { recursive: true });
  symlinkSync(dataDir, join(link, 'data'));
  writeFileSync(join(modulesDir, 'README.txt'), 'modules written by the red-team run; removed with the run\n');
  return { modulesDir, secretFiles: ['admin-token', 'kernel-id', 'pg/pg-password'] };
}
