// The reaper: a small detached process per startModule that outlives a test process which
// never called stop() — killed (SIGKILL, Ctrl-C), crashed, or ended by its test runner without
// running 'exit' hooks (vitest ends its workers that way). When the test process is gone it
// kills the kernel (its pid is read from a file, since setConfig restarts it), removes the temp
// folder and drops the throwaway database with its roles. stop() ends it first.
//
// Run as `node dist/shared/testing/reaper.js` with REAPER_PARENT (pid), REAPER_PID_FILE,
// REAPER_TEMP, and REAPER_DB_SERVER + REAPER_DB_NAME when there is a database to drop.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HUB_ROOT } from '../paths.js';
import { dropDatabaseAndRoles } from './throwaway-database.js';
import { pidAlive } from './wait.js';

/** The compiled reaper (the kernel must be built anyway). */
export const REAPER_ENTRY = join(HUB_ROOT, 'dist', 'shared', 'testing', 'reaper.js');

export interface ReaperJob {
  parentPid: number;
  kernelPidFile: string;
  tempDir: string;
  database?: { server: string; name: string };
}

/** Starts a reaper for `job`, detached from the test process and its process group. Returns its pid. */
export function startReaper(job: ReaperJob): number {
  const p = spawn(process.execPath, [REAPER_ENTRY], {
    detached: true,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      REAPER_PARENT: String(job.parentPid),
      REAPER_PID_FILE: job.kernelPidFile,
      REAPER_TEMP: job.tempDir,
      ...(job.database ? { REAPER_DB_SERVER: job.database.server, REAPER_DB_NAME: job.database.name } : {}),
    },
  });
  p.unref();
  return p.pid!;
}


/**
 * SIGKILLs the embedded PostgreSQL server under `dataDir` (HUB_DATA_DIR/pg/data/postmaster.pid),
 * if one runs: a SIGKILLed kernel leaves it running (the next kernel would adopt it), and its
 * folder is about to be removed. No-op without the file.
 */
export function killEmbeddedServer(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // no embedded server, or gone already
  }
}

async function reap(env: NodeJS.ProcessEnv): Promise<void> {
  let kernel = 0;
  try {
    kernel = Number(readFileSync(env.REAPER_PID_FILE!, 'utf8').trim());
  } catch {
    // no pid file: the kernel never started
  }
  if (kernel > 0 && pidAlive(kernel)) {
    // SIGTERM first: the kernel drains its children and stops an embedded server itself
    try {
      process.kill(kernel, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
    const deadline = Date.now() + 5_000;
    while (pidAlive(kernel) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (pidAlive(kernel)) process.kill(kernel, 'SIGKILL');
  }
  killEmbeddedServer(join(env.REAPER_TEMP!, 'data'));
  rmSync(env.REAPER_TEMP!, { recursive: true, force: true });
  if (env.REAPER_DB_SERVER && env.REAPER_DB_NAME) {
    // the kernel's children may still hold connections for a moment: DROP … WITH (FORCE) ends them
    await dropDatabaseAndRoles(env.REAPER_DB_SERVER, env.REAPER_DB_NAME).catch(() => undefined);
  }
}

if (process.env.REAPER_PARENT && process.argv[1] && process.argv[1].endsWith('reaper.js')) {
  const parent = Number(process.env.REAPER_PARENT);
  const timer = setInterval(() => {
    if (pidAlive(parent)) return;
    clearInterval(timer);
    void reap(process.env).finally(() => process.exit(0));
  }, 200);
}
