// Issue 14, item 9: kill -9 of the embedded postmaster. It is started again within seconds
// on the same port, /health says `degraded` with the reason meanwhile, and modules reconnect
// with no restart of theirs. Item 6c: server.log stays bounded by size.
import { cpSync, existsSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { authorize } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;
const env = { MODULES__NOTES__READ_ONLY: 'false', MODULES__NOTES__DRY_RUN: 'false', HUB_PG_LOG_MAX_BYTES: String(1024 * 1024) };

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  // notes declares permissions: this suite is about the database, so it calls as hub.admin
  k = authorize(await startKernel({ modulesDir, embedded: true, env }));
}, 120_000);

afterAll(stopAllKernels);

const pidFile = () => readFileSync(join(k.dataDir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n');

describe('embedded PostgreSQL supervision (item 9)', () => {
  it('kill -9 of the postmaster: degraded with a reason, back within seconds, the module reconnects without a restart', async () => {
    await k.json('/api/v1/notes/notes', { method: 'POST', body: JSON.stringify({ title: 'before' }), headers: { 'content-type': 'application/json' } });
    const childPid = (await k.record('notes')).pid;
    const [pgPid, , , port] = pidFile();
    expect((await k.json('/health')).status).toBe('ok');
    const killedAt = Date.now();
    process.kill(Number(pgPid), 'SIGKILL');
    const degraded = await waitFor(async () => {
      const h = await k.json('/health');
      return h.status === 'degraded' && h.database?.up === false ? h : undefined;
    }, { timeoutMs: 5000, intervalMs: 10, what: '/health degraded' });
    expect(degraded.database.reason).toMatch(/embedded PostgreSQL \(pid \d+\) exited \(SIGKILL\)/);
    const notes = await waitFor(async () => {
      const res = await k.get('/api/v1/notes/notes', { signal: AbortSignal.timeout(2000) });
      return res.status === 200 ? ((await res.json()) as any[]) : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100, what: 'the module reading its notes again' });
    const backMs = Date.now() - killedAt;
    console.log(`embedded PostgreSQL: module reads again ${backMs} ms after kill -9`);
    expect(notes.map((n) => n.title)).toContain('before');
    expect(backMs).toBeLessThan(10_000);
    expect((await k.record('notes')).pid).toBe(childPid); // no restart of the module
    expect(pidFile()[3]).toBe(port); // the same port, so every pool reconnects by itself
    await waitFor(async () => ((await k.json('/health')).status === 'ok' ? true : undefined), { timeoutMs: 5000, what: '/health ok again' });
    expect(k.lines.join('\n')).toMatch(/embedded PostgreSQL: back after \d+ ms/);
  });

  it('server.log stays bounded: 20 failing 1 MB queries (40 MB of log) leave under 8 MB with HUB_PG_LOG_MAX_BYTES at 1 MB', async () => {
    const [, , , port] = pidFile();
    const password = readFileSync(join(k.dataDir, 'pg', 'pg-password'), 'utf8').trim();
    const client = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'postgres' });
    await client.connect();
    try {
      const junk = 'x'.repeat(1024 * 1024);
      for (let i = 0; i < 20; i++) await client.query(`SELECT '${junk}'::int`).catch(() => undefined);
    } finally {
      await client.end();
    }
    const log = join(k.dataDir, 'pg', 'server.log');
    await waitFor(() => (existsSync(`${log}.1`) && statSync(log).size <= 2 * 1024 * 1024 ? true : undefined), { timeoutMs: 10_000, what: 'server.log cut' });
    const total = statSync(log).size + statSync(`${log}.1`).size;
    console.log(`server.log after 20 failing 1 MB statements: ${total} bytes in two files`);
    expect(total).toBeLessThan(8 * 1024 * 1024);
  });

  it('server.log removed by an operator: the file the server still writes stays bounded (20 failing 1 MB queries)', async () => {
    const [pgPid, , , port] = pidFile();
    const log = join(k.dataDir, 'pg', 'server.log');
    rmSync(log, { force: true });
    const password = readFileSync(join(k.dataDir, 'pg', 'pg-password'), 'utf8').trim();
    const client = new pg.Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', password, database: 'postgres' });
    await client.connect();
    try {
      const junk = 'x'.repeat(1024 * 1024);
      for (let i = 0; i < 20; i++) await client.query(`SELECT '${junk}'::int`).catch(() => undefined);
    } finally {
      await client.end();
    }
    // the server's stderr is the removed file: it is what must stay bounded
    const stderr = `/proc/${pgPid}/fd/2`;
    expect(readlinkSync(stderr)).toMatch(/server\.log \(deleted\)$/);
    await waitFor(() => (statSync(stderr).size <= 2 * 1024 * 1024 ? true : undefined), { timeoutMs: 10_000, what: 'the removed server.log cut' });
    console.log(`removed server.log after 20 failing 1 MB statements: ${statSync(stderr).size} bytes`);
  });

  it('kill -STOP of the postmaster (it takes no new connection): degraded with the reason within seconds, ok after kill -CONT', async () => {
    const pgPid = Number(pidFile()[0]);
    expect((await k.json('/health')).status).toBe('ok');
    process.kill(pgPid, 'SIGSTOP');
    try {
      const down = await waitFor(async () => {
        const h = await k.json('/health');
        return h.status === 'degraded' ? h : undefined;
      }, { timeoutMs: 15_000, what: '/health degraded while the postmaster is stopped' });
      expect(down.database.up).toBe(false);
      expect(down.database.reason).toMatch(/the database at 127\.0\.0\.1:\d+ does not answer \(no answer to SELECT 1 within \d+ ms\)/);
    } finally {
      process.kill(pgPid, 'SIGCONT');
    }
    await waitFor(async () => ((await k.json('/health')).status === 'ok' ? true : undefined), { timeoutMs: 15_000, what: '/health ok after SIGCONT' });
  });
});
