// The reaper of one `hubctl test` run: a detached process (its own session, so Ctrl-C in the
// terminal does not reach it) that hubctl tells, on its stdin, what it creates before it
// creates it: databases (with the admin URL to drop them), processes, embedded PostgreSQL
// data folders and temp folders. When hubctl ends normally it cleans up itself and sends
// {"done":true}. When hubctl dies any other way (SIGKILL, a crash, an OOM kill) its end of
// the pipe closes, and the reaper does the cleanup: kills the processes (their process
// groups), stops the embedded server, drops the databases and their module roles (named
// h<8 hex>_... per database, kernel/module-roles.ts) and removes the folders.
// Messages (one JSON object a line): {"pid":n} {"uid":n} (kill all its processes) {"database":{"adminUrl":s,"name":s}}
// {"pgData":dir} {"dir":dir} {"done":true}.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dropThrowaway } from './module-test-reaper-drop.js';
import { killAllOf } from './module-test-user.js';

interface Plan { pids: number[]; uids: number[]; databases: { adminUrl: string; name: string }[]; pgData: string[]; dirs: string[] }

const plan: Plan = { pids: [], uids: [], databases: [], pgData: [], dirs: [] };
let done = false;
let buffered = '';

function take(line: string): void {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  if (m.done === true) done = true;
  if (typeof m.pid === 'number') plan.pids.push(m.pid);
  if (typeof m.uid === 'number') plan.uids.push(m.uid);
  if (typeof m.pgData === 'string') plan.pgData.push(m.pgData);
  if (typeof m.dir === 'string') plan.dirs.push(m.dir);
  const d = m.database as { adminUrl?: unknown; name?: unknown } | undefined;
  if (d && typeof d.adminUrl === 'string' && typeof d.name === 'string' && /^hubtest_[a-z0-9_]+$/.test(d.name)) {
    plan.databases.push({ adminUrl: d.adminUrl, name: d.name });
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

async function reap(): Promise<void> {
  for (const pid of plan.pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  for (const uid of plan.uids) {
    try {
      killAllOf(uid); // every process the module's tests started, wherever it went
    } catch {
      // not a tests uid: nothing to do
    }
  }
  await until(() => plan.pids.every((p) => !alive(p)), 5_000);
  for (const d of plan.databases) await dropThrowaway(d.adminUrl, d.name).catch(() => undefined);
  for (const dir of plan.pgData) {
    try {
      const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0) {
        process.kill(pid, 'SIGQUIT'); // immediate shutdown: the data is thrown away anyway
        await until(() => !alive(pid), 10_000);
      }
    } catch {
      // no server running
    }
  }
  for (const dir of plan.dirs) rmSync(dir, { recursive: true, force: true });
}

process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const l of lines) take(l);
  if (done) process.exit(0);
});
process.stdin.on('end', () => {
  if (buffered) take(buffered);
  if (done) process.exit(0);
  void reap().finally(() => process.exit(0));
});
process.stdin.on('error', () => undefined);
