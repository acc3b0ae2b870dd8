// Who a module's own tests run as (issue 16; DESIGN.md "Trust boundary"). A module's tests are
// the module author's code, like the module itself: `hubctl test` must not hand them more than
// enabling the module would. When hubctl runs as root (a container, CI) the vitest process
// drops to an unprivileged uid of its own, so the tests cannot write HUB_DATA_DIR (the pass
// records, the admin token), signal the operator's processes or read root's files; its
// environment is rebuilt from nothing, so DATABASE_URL, HUB_ADMIN_TOKEN and the like never
// reach it. As another user there is no such wall (the tests run as you, like `npm test`).
import { randomBytes } from 'node:crypto';
import { chownSync, cpSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_UID_BASE, runtimeUnreadable } from '../kernel/os-isolation.js';

/** The uid/gid (one number) module tests run as under root: just below the modules' own range. */
export const MODULE_TESTS_UID = DEFAULT_UID_BASE - 1;

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
 * MODULE_TESTS_UID; `beforeCreate` gets its path before it exists (tell the reaper there); the
 * caller removes it. Never throws for a missing wall: it says so in `note`.
 */
export function prepareTestsUser(moduleName: string, isolation: string | undefined, beforeCreate: (home: string) => void): TestsUser {
  // named first and announced (to the run's reaper) before it exists: a kill in between leaves nothing
  const home = join(tmpdir(), `hubtest-${moduleName}-tests-${randomBytes(6).toString('hex')}`);
  beforeCreate(home);
  mkdirSync(home, { mode: 0o700 });
  if (process.getuid?.() !== 0) return { runAs: null, home, note: 'as you (not root: no separate user)' };
  if (isolation === 'process') return { runAs: null, home, note: 'as root (HUB_ISOLATION=process)' };
  const unreadable = runtimeUnreadable();
  if (unreadable) return { runAs: null, home, note: `as root (${unreadable})` };
  chownSync(home, MODULE_TESTS_UID, MODULE_TESTS_UID);
  return { runAs: { uid: MODULE_TESTS_UID, gid: MODULE_TESTS_UID }, home, note: `as uid ${MODULE_TESTS_UID}` };
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
