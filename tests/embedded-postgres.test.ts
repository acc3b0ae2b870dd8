// The embedded default server: first start, restart with data kept, recovery after the
// kernel was SIGKILLed, stale lock files; and openDatabase's handling of a dead DATABASE_URL.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openDatabase } from '../kernel/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../kernel/embedded-postgres.js';
import { issueRuntimeCredentials } from '../kernel/module-roles.js';
import { createLogger } from '../shared/logger.js';
import { HUB_ROOT } from '../shared/paths.js';
import { waitFor } from './helpers/wait.js';

/** Like kill -0, but a zombie (an exited server nobody reaped after its kernel died) counts as gone. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const log = createLogger({ level: 'warn', name: 'test' });
let dataDir: string;
const started: EmbeddedPostgres[] = [];

async function start(): Promise<EmbeddedPostgres> {
  const ep = await startEmbeddedPostgres({ dataDir, log });
  started.push(ep);
  return ep;
}

async function query<T = any>(ep: { connectionString: string }, sql: string, params?: unknown[]): Promise<T[]> {
  const c = new pg.Client({ connectionString: ep.connectionString, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

beforeAll(() => {
  // mkdtemp makes a 0700 root-owned folder: the server's unprivileged user must still get in.
  dataDir = mkdtempSync(join(tmpdir(), 'hub-embedded-'));
});

afterAll(async () => {
  for (const ep of started) await ep.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  it('initialises, answers queries on loopback with a password, and never uses 5432', async () => {
    const t0 = performance.now();
    const ep = await start();
    const rows = await query(ep, "SHOW listen_addresses");
    console.log(`[measure] cold start (initdb + start + first query): ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(rows[0].listen_addresses).toBe('127.0.0.1');
    expect(ep.port).not.toBe(5432);
    expect(ep.host).toBe('127.0.0.1');
    expect(ep.reused).toBe(false);

    const pwFile = join(dataDir, 'pg', 'pg-password');
    expect(statSync(pwFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(pwFile, 'utf8').trim()).toBe(ep.password);
    const hba = await query(ep, 'SELECT DISTINCT auth_method FROM pg_hba_file_rules');
    expect(hba.map((r) => r.auth_method)).toEqual(['scram-sha-256']);
    const wrong = new pg.Client({ host: ep.host, port: ep.port, user: ep.user, password: 'wrong', database: ep.database });
    await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' });

    await query(ep, 'CREATE TABLE kept (v text)');
    await query(ep, "INSERT INTO kept VALUES ('before restart')");
    await ep.stop();
    expect(pidAlive(ep.pid)).toBe(false);
  });

  it('restarts on the same data with the same password', async () => {
    const t0 = performance.now();
    const ep = await start();
    const rows = await query(ep, 'SELECT v FROM kept');
    console.log(`[measure] warm start (start + first query): ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(rows).toEqual([{ v: 'before restart' }]);
    expect(ep.port).not.toBe(5432);
    await ep.stop();
  });

  it('gives module roles working passwords that rotate on each issue (openDatabase, embedded)', async () => {
    const db = await openDatabase({ dataDir, log });
    try {
      expect(db.embedded).toBe(true);
      const first = await issueRuntimeCredentials(db, { name: 'notes' });
      const second = await issueRuntimeCredentials(db, { name: 'notes' });
      expect(second.isolation).toBe('role');
      const login = (password: string): Promise<void> => {
        const c = new pg.Client({ ...second.connection, password, connectionTimeoutMillis: 10_000 });
        return c.connect().then(() => c.end());
      };
      await login(second.connection.password);
      await expect(login(first.connection.password)).rejects.toMatchObject({ code: '28P01' });
    } finally {
      await db.close();
    }
  });

  it('adopts the server left running by a SIGKILLed kernel, then starts cleanly after it', async () => {
    const script = join(HUB_ROOT, 'node_modules', '.cache', 'bmc-hub-tests', `hold-${process.pid}.mjs`);
    mkdirSync(join(script, '..'), { recursive: true });
    await build({
      stdin: {
        contents: `
          import { pino } from 'pino';
          import { startEmbeddedPostgres } from '../kernel/embedded-postgres.js';
          const ep = await startEmbeddedPostgres({ dataDir: process.argv[2], log: pino({ level: 'warn' }) });
          console.log('READY ' + ep.port + ' ' + ep.pid);
          setInterval(() => {}, 1 << 30);`,
        resolveDir: join(HUB_ROOT, 'tests'), sourcefile: 'hold.ts', loader: 'ts',
      },
      bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: script, logLevel: 'warning',
    });
    const kernel = spawn(process.execPath, [script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    onTestFinished(() => {
      kernel.kill('SIGKILL');
      rmSync(script, { force: true });
    });
    let out = '';
    kernel.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const ready = await waitFor(() => /READY (\d+) (\d+)/.exec(out), { timeoutMs: 60_000, what: 'the holder script to start PostgreSQL' });
    const [port, serverPid] = [Number(ready[1]), Number(ready[2])];
    await query({ connectionString: `postgres://postgres:${encodeURIComponent(readFileSync(join(dataDir, 'pg', 'pg-password'), 'utf8').trim())}@127.0.0.1:${port}/hub` },
      "INSERT INTO kept VALUES ('written by the killed kernel')");
    kernel.kill('SIGKILL');
    await waitFor(() => kernel.exitCode !== null || kernel.signalCode !== null, { what: 'the holder to die' });
    expect(pidAlive(serverPid)).toBe(true); // the server survived its kernel

    const adopted = await start();
    expect(adopted.reused).toBe(true);
    expect(adopted.pid).toBe(serverPid);
    expect(adopted.port).toBe(port);
    expect((await query(adopted, 'SELECT count(*)::int AS n FROM kept'))[0].n).toBe(2);
    await adopted.stop();
    expect(pidAlive(serverPid)).toBe(false);

    const fresh = await start();
    expect(fresh.reused).toBe(false);
    expect((await query(fresh, 'SELECT v FROM kept ORDER BY v')).map((r) => r.v)).toEqual(['before restart', 'written by the killed kernel']);
    await fresh.stop();
  });

  it('starts despite a stale postmaster.pid whose process is gone', async () => {
    const pidFile = join(dataDir, 'pg', 'data', 'postmaster.pid');
    // A pid that cannot be running; the rest of the file as a crashed server leaves it.
    writeFileSync(pidFile, `4194000\n${join(dataDir, 'pg', 'data')}\n1700000000\n45678\n\n127.0.0.1\n  1234567   7\nready   \n`);
    const ep = await start();
    expect(ep.reused).toBe(false);
    expect((await query(ep, 'SELECT count(*)::int AS n FROM kept'))[0].n).toBe(2);
    await ep.stop();
  });
});

describe('openDatabase with DATABASE_URL', () => {
  let silent: ReturnType<typeof createServer>;
  let silentPort = 0;
  const sockets = new Set<import('node:net').Socket>();
  beforeAll(async () => {
    // Accepts TCP and never answers: the case a plain connect timeout would not catch.
    silent = createServer((socket) => { sockets.add(socket); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => silent.close(() => r()));
  });

  it('fails fast and clearly when nothing listens', async () => {
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    await expect(openDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/x`, dataDir, log }))
      .rejects.toMatchObject({ code: 'database_unavailable', message: expect.stringMatching(new RegExp(`^cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} .*connection refused`)) });
  });

  it('gives up on a server that never answers within the timeout', async () => {
    const t0 = Date.now();
    await expect(openDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:${silentPort}/x`, dataDir, log, connectTimeoutMs: 1500 }))
      .rejects.toMatchObject({ code: 'database_unavailable', message: expect.stringContaining(`127.0.0.1:${silentPort}`) });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
