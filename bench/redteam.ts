// `npm run redteam`: starts a hub with a hostile module installed and tries, from inside
// that module's child and from outside, each attack of the trust-boundary issue. Prints
// `attempt | expected | observed | holds` and exits non-zero when something that should hold
// does not. tests/hostile-module.test.ts runs the same catalogue and asserts every row.
//
// Attempts that only an OS wall can stop (signals, reading the kernel's files) are marked
// `tier: 'uid'`: under process isolation (a kernel that cannot change user) they are
// expected to get through, and the table says so rather than claiming a wall that is not there.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestDatabase } from '../tests/helpers/database.js';
import { rawRequest } from '../tests/helpers/http.js';
import { startKernel, type RunningKernel } from '../tests/helpers/kernel.js';
import { tempDir } from '../tests/helpers/modules.js';
import { VICTIM_ROWS, writeRedteamModules, type RedteamModules } from './redteam-modules.js';

export interface RedteamRow {
  item: number;
  attempt: string;
  expected: string;
  observed: string;
  holds: boolean;
  /** 'uid': only the per-module OS user stops it; under process isolation it is expected to pass. */
  tier?: 'uid';
}

interface TryResult { done: boolean; code?: string; detail?: string }

const MB = 1024 * 1024;

function kernelRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function attempt(k: RunningKernel, name: string, query: Record<string, string | number> = {}, module = 'evil'): Promise<TryResult> {
  const qs = new URLSearchParams(Object.entries(query).map(([a, b]): [string, string] => [a, String(b)])).toString();
  let r: Response;
  try {
    r = await k.get(`/api/v1/${module}/try/${name}${qs ? `?${qs}` : ''}`, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    return { done: false, code: 'no answer', detail: (e as Error).message };
  }
  if (r.status !== 200) return { done: false, code: `http ${r.status}`, detail: (await r.text()).slice(0, 200) };
  return (await r.json()) as TryResult;
}

const said = (t: TryResult) => (t.done ? `done: ${t.detail ?? ''}` : `refused: ${t.code ?? ''} ${t.detail ?? ''}`).trim().slice(0, 120);

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True when `check` stays true for the whole window (for "nothing happened" findings). */
async function stays(check: () => Promise<boolean>, windowMs: number): Promise<boolean> {
  const end = Date.now() + windowMs;
  while (Date.now() < end) {
    if (!(await check().catch(() => false))) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Where the admin surface of this kernel answers (its own origin once there is one). */
function adminUrl(k: RunningKernel): string {
  return (k as unknown as { adminUrl?: string }).adminUrl ?? k.url;
}

/** Runs every attempt against a running kernel that has the red-team modules installed. */
export async function runAttempts(k: RunningKernel, mods: RedteamModules, opts: { floodLines?: number } = {}): Promise<RedteamRow[]> {
  const rows: RedteamRow[] = [];
  const add = (row: RedteamRow) => rows.push(row);
  const victimOk = async () => {
    const r = await k.get('/api/v1/victim/count');
    return r.status === 200 && ((await r.json()) as { rows: number }).rows === VICTIM_ROWS;
  };
  const kernelPid = k.proc.pid!;
  const victim = await k.record('victim');

  // 1: signals
  for (const [label, name, q] of [
    ['signal the kernel (kill(ppid, 0))', 'signal-kernel', {}],
    ['signal a sibling module (kill(victim pid, 0))', 'signal-sibling', { pid: victim.pid }],
    ['signal its own PostgreSQL backend', 'signal-backend', {}],
    ['open the kernel inspector (SIGUSR1 → :9229)', 'open-inspector', {}],
  ] as const) {
    const t = await attempt(k, name, q);
    add({ item: 1, attempt: label, expected: 'EPERM / closed', observed: said(t), holds: !t.done, tier: name === 'open-inspector' ? undefined : 'uid' });
  }

  // 2-3: the kernel's files
  const files = [...mods.secretFiles.map((f) => join(k.dataDir, f)).filter((p) => existsSync(p)), `/proc/${kernelPid}/environ`];
  for (const path of files) {
    const t = await attempt(k, 'read-file', { path });
    add({ item: 2, attempt: `read ${path.replace(k.dataDir, '$HUB_DATA_DIR')}`, expected: 'refused', observed: said(t), holds: !t.done, tier: 'uid' });
  }
  const secret = join(k.dataDir, existsSync(join(k.dataDir, 'admin-token')) ? 'admin-token' : 'kernel-id');
  const w = await attempt(k, 'worker-escape', { path: secret });
  add({ item: 2, attempt: 'Worker with NODE_OPTIONS=--allow-fs-read=* reads a kernel file', expected: 'refused', observed: said(w), holds: !w.done });
  const nested = await attempt(k, 'worker-nested', { path: secret });
  add({ item: 2, attempt: 'a plain Worker starts a nested one with NODE_OPTIONS=--allow-fs-read=*', expected: 'refused', observed: said(nested), holds: !nested.done });
  const link = await k.record('evillink');
  add({ item: 3, attempt: 'symlink from the module folder to HUB_DATA_DIR', expected: 'module kept out (failed)', observed: `${link.state}: ${String(link.last_error ?? '').slice(0, 90)}`, holds: link.state === 'failed' });

  // 4: compile-time import of a kernel file
  const imp = await k.record('evilimport');
  const token = k.adminToken();
  const leaked = token !== undefined && JSON.stringify(imp).includes(token.slice(0, 12));
  add({ item: 4, attempt: 'import a kernel file at compile time', expected: 'failed: imports a file outside its folder', observed: `${imp.state}: ${String(imp.last_error ?? '').slice(0, 90)}`, holds: imp.state === 'failed' && /outside its folder/.test(String(imp.last_error)) && !leaked });

  const bundle = await (await k.get('/api/v1/evilmap/map')).text();
  const mapped = /base64,([A-Za-z0-9+/=]+)/.exec(bundle);
  const mapText = mapped ? Buffer.from(mapped[1]!, 'base64').toString('utf8') : '';
  const inlined = token !== undefined && (bundle + mapText).includes(token.slice(0, 12));
  add({ item: 4, attempt: "a source map in the module names the admin token (esbuild reads map sources)", expected: 'nothing of it in the bundle', observed: inlined ? 'token inlined in the bundle' : mapped ? 'bundle clean' : 'no bundle map', holds: !inlined && mapped !== null });

  // 5: the admin API from inside the child
  for (const [base, where] of [[k.url, 'public'], [adminUrl(k), 'admin']] as const) {
    const d = await attempt(k, 'http', { url: `${base}/api/v1/modules/victim/disable`, method: 'POST' });
    add({ item: 5, attempt: `POST disable victim on the ${where} origin, no credential`, expected: '401', observed: said(d), holds: !d.done && (await k.record('victim')).state === 'running' });
    const l = await attempt(k, 'http', { url: `${base}/api/v1/modules/victim/logs?lines=5` });
    add({ item: 5, attempt: `GET victim's logs on the ${where} origin, no credential`, expected: '401', observed: said(l), holds: !l.done });
  }

  // 6: forged cluster notification
  const n = await attempt(k, 'notify', { module: 'victim' });
  const stillOn = await stays(async () => (await k.record('victim')).state === 'running' && (await k.record('victim')).enabled === true, 1500);
  add({ item: 6, attempt: 'pg_notify a forged "disable victim"', expected: 'victim stays enabled', observed: `${said(n)}; victim ${stillOn ? 'still running' : 'disabled'}`, holds: stillOn });

  // 7: the kernel's old advisory lock keys
  const held = await attempt(k, 'hold-locks', { ms: 8000 });
  const t0 = Date.now();
  const restart = await k.admin('/api/v1/modules/victim/restart', { method: 'POST', signal: AbortSignal.timeout(15_000) }).catch((e: Error) => ({ status: 0, statusText: e.message }));
  const restartMs = Date.now() - t0;
  add({ item: 7, attempt: 'hold pg_advisory_xact_lock(1213547008, 1|2), then restart victim', expected: 'restart answers 2xx within 5 s', observed: `${said(held)}; restart ${restart.status} in ${restartMs} ms`, holds: restart.status >= 200 && restart.status < 300 && restartMs < 5000 });

  // 10: the module's docs must not carry the kernel's security schemes
  await attempt(k, 'docs-borrow');
  const doc = (await k.json('/api/docs/openapi.json')) as { paths?: Record<string, Record<string, { security?: unknown }>> };
  const evilOps = Object.entries(doc.paths ?? {}).filter(([p]) => p.startsWith('/api/v1/evil/')).flatMap(([, ops]) => Object.values(ops));
  const borrowed = evilOps.some((op) => JSON.stringify(op.security ?? []).includes('adminToken'));
  add({ item: 10, attempt: "module marks its operations with the kernel's adminToken scheme", expected: 'scheme stripped', observed: evilOps.length === 0 ? 'no evil operations in the docs' : borrowed ? 'kept' : 'stripped', holds: evilOps.length > 0 && !borrowed });

  // 8: exhausting the kernel
  const rss0 = kernelRssBytes(kernelPid);
  const lines = opts.floodLines ?? 40;
  const flood = await attempt(k, 'log-flood', { lines, mb: 10 });
  const afterFlood = await until(victimOk, 20_000);
  const rss1 = kernelRssBytes(kernelPid);
  add({ item: 8, attempt: `${lines} log lines of 10 MB each`, expected: 'kernel up, RSS +<200 MB', observed: `${said(flood)}; kernel RSS +${Math.round((rss1 - rss0) / MB)} MB`, holds: afterFlood && rss1 - rss0 < 200 * MB });
  const docs = await attempt(k, 'docs-bloat', { mb: 100 });
  const d0 = Date.now();
  const merged = await k.get('/api/docs/openapi.json', { signal: AbortSignal.timeout(30_000) }).catch(() => null);
  const mergedText = merged ? await merged.text() : '';
  const docsMs = Date.now() - d0;
  const rss2 = kernelRssBytes(kernelPid);
  add({ item: 8, attempt: 'two 100 MB ctx.docs descriptions', expected: 'docs capped, kernel RSS +<200 MB', observed: `${said(docs)}; merged docs ${Math.round(mergedText.length / 1024)} KiB in ${docsMs} ms; RSS +${Math.round((rss2 - rss0) / MB)} MB`, holds: merged?.status === 200 && mergedText.length < 10 * MB && rss2 - rss0 < 200 * MB && (await victimOk()) });
  const ipc = await attempt(k, 'ipc-bloat', { mb: 150 });
  const ipcSettled = await until(victimOk, 10_000);
  const rss3 = kernelRssBytes(kernelPid);
  add({ item: 8, attempt: 'a 150 MB IPC message', expected: 'refused or child killed; kernel RSS +<200 MB', observed: `${said(ipc)}; RSS +${Math.round((rss3 - rss0) / MB)} MB`, holds: ipcSettled && rss3 - rss0 < 200 * MB && (await victimOk()) });

  // 9: lying about memory
  const memBefore = await k.record('evilmem');
  const lie = await attempt(k, 'memory-lie', { mb: 367 }, 'evilmem');
  const recycled = await until(async () => {
    const r = await k.record('evilmem');
    return r.restarts > memBefore.restarts || (r.pid !== memBefore.pid && r.pid !== null);
  }, 15_000);
  add({ item: 9, attempt: 'report 50 MB while holding 367 MB (max_memory_mb 100)', expected: 'recycled on the OS figure', observed: `${said(lie)}; ${recycled ? 'recycled' : 'still alive'}`, holds: recycled });

  // 11: around the gateway
  const victimNow = await k.record('victim');
  const direct = await attempt(k, 'http', { url: `http://127.0.0.1:${victimNow.port}/api/v1/victim/count` });
  add({ item: 11, attempt: "call victim's child port directly", expected: '403', observed: said(direct), holds: !direct.done && direct.code === '403' });

  // 12: cross-site and DNS rebinding
  const cross = await rawRequest({ port: k.port, path: '/api/v1/victim/count', method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' } });
  add({ item: 12, attempt: 'cross-site form POST to a module route', expected: '403', observed: String(cross.status), holds: cross.status === 403 });
  const rebind = await rawRequest({ port: k.port, path: '/health', headers: { host: 'evil.example' } });
  add({ item: 12, attempt: 'Host: evil.example on /health', expected: '421', observed: String(rebind.status), holds: rebind.status === 421 });

  // 13: the database's superuser
  const su = await attempt(k, 'pg-superuser');
  const health = await k.json('/health');
  const warned = JSON.stringify(health).includes('trust');
  add({ item: 13, attempt: 'log in as postgres with a wrong password', expected: 'refused, or the trust is reported in /health', observed: `${said(su)}; /health ${warned ? 'reports it' : 'silent'}`, holds: !su.done || warned });

  // 14: escape sequences in logs
  await attempt(k, 'ansi-log');
  const logsRes = await until(async () => (await (await k.admin('/api/v1/modules/evil/logs?lines=50')).text()).includes('marker-ansi'), 5000);
  const logText = await (await k.admin('/api/v1/modules/evil/logs?lines=50')).text();
  const raw = /\u001b|\\u001b|\u0007|\\u0007/.test(logText.split('\n').filter((l) => l.includes('marker-ansi')).join('\n'));
  add({ item: 14, attempt: 'log OSC/CSI escape sequences', expected: 'stripped in logs', observed: logsRes ? (raw ? 'raw escapes kept' : 'stripped') : 'line not found', holds: logsRes && !raw });

  // and through all of it
  add({ item: 0, attempt: 'kernel still up, victim rows intact', expected: `running, ${VICTIM_ROWS} rows`, observed: (await victimOk()) ? 'yes' : 'no', holds: (await victimOk()) && k.proc.exitCode === null });
  return rows;
}

/**
 * Starts a kernel with the red-team modules: on a throwaway database of DATABASE_URL's server
 * when `onServer` (dropped by cleanup), else on the embedded server under a temp data folder.
 */
export async function startRedteamHub(onServer: boolean): Promise<{ k: RunningKernel; mods: RedteamModules; cleanup(): Promise<void> }> {
  const dataDir = tempDir('redteam-data');
  const mods = writeRedteamModules(dataDir);
  const db = onServer ? await createTestDatabase() : null;
  const cleanup = async (k?: RunningKernel) => {
    await k?.stop();
    await db?.drop();
    rmSync(mods.modulesDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const k = await startKernel({
      modulesDir: mods.modulesDir,
      dataDir,
      ...(db ? { databaseUrl: db.url } : { embedded: true }),
      env: { HUB_HEARTBEAT_INTERVAL_MS: '200', LOG_LEVEL: 'info' },
    });
    return { k, mods, cleanup: () => cleanup(k) };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export function formatTable(rows: RedteamRow[], isolation: string): string {
  const cells = rows.map((r) => [String(r.item || '-'), r.attempt, r.expected, r.observed, r.holds ? 'yes' : r.tier === 'uid' && isolation !== 'uid' ? 'no (process tier)' : 'NO']);
  const head = ['#', 'attempt', 'expected', 'observed', 'holds'];
  const width = head.map((h, i) => Math.min(70, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const line = (c: string[]) => c.map((x, i) => x.slice(0, width[i]).padEnd(width[i]!)).join(' | ');
  return [line(head), width.map((n) => '-'.repeat(n)).join('-|-'), ...cells.map(line)].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { k, mods, cleanup } = await startRedteamHub(process.env.DATABASE_URL !== undefined);
  let failed = 0;
  try {
    const isolation = String((await k.json('/health')).isolation ?? 'unknown');
    console.log(`hub at ${k.url}, isolation: ${isolation}`);
    const rows = await runAttempts(k, mods, { floodLines: Number(process.env.REDTEAM_FLOOD_LINES ?? 40) });
    console.log(formatTable(rows, isolation));
    failed = rows.filter((r) => !r.holds && !(r.tier === 'uid' && isolation !== 'uid')).length;
    console.log(`\n${rows.length - failed} held, ${failed} did not`);
  } finally {
    await cleanup();
  }
  process.exit(failed === 0 ? 0 : 1);
}
