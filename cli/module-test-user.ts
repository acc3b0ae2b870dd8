// Who a module's own tests run as (issue 16; DESIGN.md "Trust boundary"). A module's tests are
// the module author's code, like the module itself: `hubctl test` must not hand them more than
// enabling the module would. When hubctl runs as root (a container, CI) the vitest process
// drops to an unprivileged uid of its own (one per run; every process
// of it is killed at the end, so nothing the tests start outlives the run), so the tests cannot write HUB_DATA_DIR (the pass
// records, the admin token), signal the operator's processes or read root's files; its
// environment is rebuilt from nothing, so DATABASE_URL, HUB_ADMIN_TOKEN and the like never
// reach it. As another user there is no such wall (the tests run as you, like `npm test`).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, cpSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_UID_BASE, runtimeUnreadable } from '../kernel/os-isolation.js';

/**
 * The uids (gid = uid) module tests run as under root: the thousand just below the modules'
 * own range. Each run takes one no process holds, so at its end "every process of that uid"
 * is exactly what the tests left behind (a `setsid` daemon included) and can be killed whole.
 */
export const MODULE_TESTS_UIDS = { first: DEFAULT_UID_BASE - 1000, last: DEFAULT_UID_BASE - 1 };

/** Uids that own a live process now (from /proc). */
function busyUids(): Set<number> {
  const busy = new Set<number>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      busy.add(statSync(`/proc/${p}`).uid);
    } catch {
      // gone
    }
  }
  return busy;
}

function freeTestsUid(): number {
  const busy = busyUids();
  const span = MODULE_TESTS_UIDS.last - MODULE_TESTS_UIDS.first + 1;
  const start = randomBytes(4).readUInt32BE() % span;
  for (let i = 0; i < span; i++) {
    const uid = MODULE_TESTS_UIDS.first + ((start + i) % span);
    if (!busy.has(uid)) return uid;
  }
  throw new Error(`every uid from ${MODULE_TESTS_UIDS.first} to ${MODULE_TESTS_UIDS.last} runs a process; end the other hubctl test runs`);
}

/**
 * SIGKILLs every process of `uid` (kill(-1) from a shell running as that uid: the kernel
 * lets it reach exactly that uid's processes, and spares the shell itself). Synchronous, so
 * it also works from a reaper at its end. Only for a uid from MODULE_TESTS_UIDS.
 */
export function killAllOf(uid: number): void {
  if (uid < MODULE_TESTS_UIDS.first || uid > MODULE_TESTS_UIDS.last) throw new Error(`refusing to kill every process of uid ${uid}`);
  spawnSync('/bin/sh', ['-c', 'kill -9 -1 2>/dev/null; exit 0'], { uid, gid: uid, stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
}

export interface TestsUser {
  /** uid/gid to spawn vitest with; null when tests run as the current user. */
  runAs: { uid: number; gid: number } | null;
  /** A fresh folder the tests' process owns (HOME, vite's cache, vitest's report). */
  home: string;
  /** One phrase for the check line: `as uid 199999` or why not. */
  note: string;
}

/**
 * Prepares the user and home folder for one module's tests. Under root (and unless
 * `HUB_ISOLATION=process` or the hub's files are unreadable to others) the folder is chowned to
 * a free uid from MODULE_TESTS_UIDS; `beforeCreate` gets its path and that uid before either is
 * used (tell the reaper there); the caller removes the folder and kills the uid's processes. Never throws for a missing wall: it says so in `note`.
 */
export function prepareTestsUser(moduleName: string, isolation: string | undefined, beforeCreate: (home: string, uid: number | null) => void): TestsUser {
  // named first and announced (to the run's reaper) before it exists: a kill in between leaves nothing
  const home = join(tmpdir(), `hubtest-${moduleName}-tests-${randomBytes(6).toString('hex')}`);
  let why: string | null = null;
  if (process.getuid?.() !== 0) why = 'as you (not root: no separate user)';
  else if (isolation === 'process') why = 'as root (HUB_ISOLATION=process)';
  else {
    const unreadable = runtimeUnreadable();
    if (unreadable) why = `as root (${unreadable})`;
  }
  const uid = why ? null : freeTestsUid();
  beforeCreate(home, uid);
  mkdirSync(home, { mode: 0o700 });
  if (uid === null) return { runAs: null, home, note: why! };
  chownSync(home, uid, uid);
  return { runAs: { uid, gid: uid }, home, note: `as uid ${uid}` };
}

/** The whole environment a module's tests get: nothing of the operator's but PATH and locale. */
export function testsEnvironment(home: string, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1', ...extra };
  for (const k of ['LANG', 'LC_ALL', 'TZ']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

/**
 * Copies of the modules folder the module sits in, inside the tests' home and owned by the
 * tests' user: the module itself whole (dot entries left out), its neighbours without their
 * node_modules (so `startModule(name, { with })` and dependencies are found beside it). The
 * tests read and may write these copies without reaching the originals, which may sit in a
 * folder only root can enter. Returns the module's copy.
 */
export function copyModuleForTests(user: TestsUser, moduleDir: string): string {
  const from = dirname(moduleDir);
  const to = join(user.home, 'modules');
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (name.startsWith('.') || !statSync(src).isDirectory()) continue;
    const whole = src === moduleDir;
    cpSync(src, join(to, name), { recursive: true, filter: (p) => p === src || (!basename(p).startsWith('.') && (whole || basename(p) !== 'node_modules')) });
  }
  if (user.runAs) chownTree(user.home, user.runAs.uid);
  return join(to, basename(moduleDir));
}

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  if (statSync(path).isDirectory()) for (const n of readdirSync(path)) chownTree(join(path, n), uid);
}
