// Every attack of the trust-boundary issue, tried by a real hostile module in a real hub
// (the same catalogue `npm run redteam` prints): each must be refused, and the kernel and the
// victim module must come out untouched. Per-kind tests with more detail sit in
// hostile-module-*.test.ts; this file is the whole list in one run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttempts, startRedteamHub, type RedteamRow } from '../bench/redteam.js';

const ITEMS: [number, string][] = [
  [1, 'cannot signal the kernel, a sibling or its PostgreSQL backend, nor open the inspector'],
  [2, "cannot read the kernel's files, directly or through a Worker with widened flags"],
  [3, 'a symlink out of its folder keeps the module out'],
  [4, "cannot bundle a kernel file at compile time, and the error quotes none of it"],
  [5, 'cannot drive the admin API or read logs without the admin credential'],
  [6, 'cannot forge a cluster decision with NOTIFY'],
  [7, "cannot stall other modules' restarts by holding lock keys"],
  [8, 'cannot exhaust the kernel with huge log lines, API docs or IPC messages'],
  [9, 'cannot lie its way past max_memory_mb'],
  [10, "cannot borrow the kernel's security scheme in the API docs"],
  [11, "cannot call another module's child around the gateway"],
  [12, 'cross-site writes and foreign Host names are refused'],
  [13, 'a server that trusts logins is refused or reported'],
  [14, 'terminal escape sequences never reach log readers'],
  [0, 'the kernel stays up and the victim keeps its rows'],
];

let hub: Awaited<ReturnType<typeof startRedteamHub>> | undefined;
let rows: RedteamRow[] = [];
let isolation = 'unknown';

beforeAll(async () => {
  hub = await startRedteamHub(true);
  isolation = String(((await hub.k.json('/health')) as { isolation?: string }).isolation);
  rows = await runAttempts(hub.k, hub.mods, { floodLines: 40 });
}, 600_000);

afterAll(async () => {
  await hub?.cleanup();
});

describe('a hostile module', () => {
  it('runs under a per-module OS user where the kernel can change user, and says which tier it has', () => {
    const canChangeUser = process.getuid?.() === 0;
    expect(['uid', 'process']).toContain(isolation);
    if (canChangeUser && isolation === 'process') {
      // root, yet no uid wall: the kernel must have said why in one line
      expect(hub!.k.lines.some((l) => /isolation/i.test(l) && /process/.test(l))).toBe(true);
    }
    if (!canChangeUser) expect(isolation).toBe('process');
  });

  for (const [item, title] of ITEMS) {
    it(`item ${item}: ${title}`, () => {
      const mine = rows.filter((r) => r.item === item);
      expect(mine.length).toBeGreaterThan(0);
      // under process isolation the OS-only rows are expected through; the rest must hold
      const failing = mine.filter((r) => !r.holds && !(r.tier === 'uid' && isolation !== 'uid'));
      expect(failing.map((r) => `${r.attempt}: ${r.observed}`)).toEqual([]);
    });
  }
});
