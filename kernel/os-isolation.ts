// The OS wall around module children (issue 11, items 1-3; DESIGN.md "Trust boundary").
// Where the kernel can change user (it runs as root: the container image, CI), every
// module's child drops to its own unprivileged uid/gid before any module code loads, so it
// cannot signal the kernel, its siblings or PostgreSQL, nor read the kernel's files. Where
// it cannot, children run as the kernel's user ("process" isolation) and the kernel says so
// in one line at start. HUB_ISOLATION=process forces the second tier (default: auto).
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { HubError } from '../shared/errors.js';
import { CHILD_ENTRY, HUB_ROOT } from '../shared/paths.js';

export type IsolationMode = 'uid' | 'process';

export interface Isolation {
  mode: IsolationMode;
  /** Why the kernel runs in "process" isolation; null in "uid". */
  reason: string | null;
  /** The uid/gid a module's child runs as; null in "process" isolation. */
  runAs(name: string): { uid: number; gid: number } | null;
}

/** First uid/gid handed to a module unless the config says otherwise (HUB_UID_BASE, read in kernel/config.ts): above any distro's users. */
export const DEFAULT_UID_BASE = 200_000;

/**
 * Why other users cannot reach `path` (an ancestor not searchable by others), or null.
 * HUB_DATA_DIR itself is not checked: the kernel makes it 0711 in "uid" isolation.
 */
function othersCanReach(path: string): string | null {
  for (let d = dirname(path); ; d = dirname(d)) {
    if (!existsSync(d)) continue;
    if ((statSync(d).mode & 0o001) === 0) return `${d} is not searchable by other users`;
    if (dirname(d) === d) return null;
  }
}

/** The first file under `dir` (to `depth` levels) that others cannot read or enter, or null. */
function firstUnreadable(dir: string, depth: number): string | null {
  const s = statSync(dir);
  if (s.isDirectory()) {
    if ((s.mode & 0o005) !== 0o005) return dir;
    if (depth === 0) return null;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (lstatSync(p).isSymbolicLink()) continue;
      const bad = firstUnreadable(p, depth - 1);
      if (bad) return bad;
    }
    return null;
  }
  return (s.mode & 0o004) === 0 ? dir : null;
}

/** Why a child under another uid could not load the hub's runtime, or null when it can. */
export function runtimeUnreadable(): string | null {
  try {
    const reach = othersCanReach(join(HUB_ROOT, 'package.json'));
    if (reach) return reach;
    for (const [p, depth] of [
      [join(HUB_ROOT, 'package.json'), 0],
      [CHILD_ENTRY, 0],
      [join(HUB_ROOT, 'dist', 'shared'), 8],
      [join(HUB_ROOT, 'node_modules'), 2],
    ] as const) {
      const bad = firstUnreadable(p, depth);
      if (bad) return `${bad} is not readable by other users`;
    }
    return null;
  } catch (e) {
    return `cannot check the runtime's permissions: ${(e as Error).message}`;
  }
}

/**
 * Stable uids: HUB_DATA_DIR/module-uids.json maps module name → uid (gid = uid). A new
 * module gets the lowest free number from the uid base (HUB_UID_BASE); a name keeps its number for good
 * (also across renames back and forth), so files it owns stay its own.
 */
export class ModuleUids {
  private readonly file: string;
  private map: Record<string, number>;

  constructor(dataDir: string, private readonly base = DEFAULT_UID_BASE) {
    this.file = join(dataDir, 'module-uids.json');
    this.map = {};
    try {
      const raw = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      if (raw && typeof raw === 'object') {
        for (const [k, v] of Object.entries(raw)) if (Number.isInteger(v) && (v as number) >= 1000) this.map[k] = v as number;
      }
    } catch {
      // first start (or an unreadable file): allocate afresh
    }
  }

  uidOf(name: string): number {
    const have = this.map[name];
    if (have !== undefined) return have;
    const used = new Set(Object.values(this.map));
    let uid = this.base;
    while (used.has(uid)) uid++;
    this.map[name] = uid;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.map, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
    return uid;
  }
}

/**
 * Decides the tier once at start: "uid" when HUB_ISOLATION is not "process", the kernel is
 * root, and the runtime is readable by others; else "process" with the reason. Throws
 * `config_invalid` when HUB_ISOLATION=uid is asked for and cannot be given.
 */
export function decideIsolation(dataDir: string, wanted: 'auto' | 'uid' | 'process' = 'auto', base = DEFAULT_UID_BASE): Isolation {
  let reason: string | null = null;
  if (wanted === 'process') reason = 'HUB_ISOLATION=process';
  else if (process.getuid?.() !== 0 || typeof process.setuid !== 'function') reason = 'the kernel is not running as root, so it cannot give children their own users';
  else reason = runtimeUnreadable() ?? othersCanReach(dataDir);
  if (reason && wanted === 'uid') throw new HubError('start_failed', `HUB_ISOLATION=uid cannot be given: ${reason}`);
  if (reason) return { mode: 'process', reason, runAs: () => null };
  const uids = new ModuleUids(dataDir, base);
  return {
    mode: 'uid',
    reason: null,
    runAs: (name) => {
      const uid = uids.uidOf(name);
      return { uid, gid: uid };
    },
  };
}

/** The one start-up line about the tier. */
export function describeIsolation(iso: Isolation, log: Logger): void {
  if (iso.mode === 'uid') {
    log.info('🧱 Isolation: uid — each module runs under its own user and cannot signal the kernel, other modules or PostgreSQL, nor read HUB_DATA_DIR');
  } else {
    log.warn(`⚠️ Isolation: process (${iso.reason}) — module children run as the kernel's user: the OS does not stop a module from signalling the kernel, other modules or PostgreSQL; Node's permission model is the only file wall`);
  }
}

/**
 * In "uid" isolation: HUB_DATA_DIR is searchable but not listable by others (0711), its
 * logs and secrets stay the kernel's alone, and build/ is searchable so each child can
 * reach (only) its own build folder.
 */
export function sealDataDir(dataDir: string): void {
  chmodSync(dataDir, 0o711);
  for (const sub of ['logs']) if (existsSync(join(dataDir, sub))) chmodSync(join(dataDir, sub), 0o700);
  for (const secret of ['admin-token', 'module-uids.json', join('pg', 'pg-password')]) {
    if (existsSync(join(dataDir, secret))) chmodSync(join(dataDir, secret), 0o600);
  }
  mkdirSync(join(dataDir, 'build'), { recursive: true });
  chmodSync(join(dataDir, 'build'), 0o711);
}

/**
 * Gives a module's build folder (HUB_DATA_DIR/build/<name>) to root:<gid>, folders 0750 and
 * files 0640: its child reads it by group, other modules' children cannot. Symlinks (the
 * node_modules link) are left alone.
 */
export function sealBuild(moduleBuildRoot: string, gid: number): void {
  const walk = (p: string) => {
    const s = lstatSync(p);
    if (s.isSymbolicLink()) return;
    if (s.uid !== 0 || s.gid !== gid) chownSync(p, 0, gid);
    if (s.isDirectory()) {
      if ((s.mode & 0o7777) !== 0o750) chmodSync(p, 0o750);
      for (const name of readdirSync(p)) walk(join(p, name));
    } else if ((s.mode & 0o7777) !== 0o640) chmodSync(p, 0o640);
  };
  walk(moduleBuildRoot);
}
