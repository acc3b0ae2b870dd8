// `npm start` with no DATABASE_URL: the kernel runs its own PostgreSQL under HUB_DATA_DIR.
// Data written through a module survives a clean restart and a kernel SIGKILL.
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';
import { pidAlive, waitFor } from './helpers/wait.js';

afterAll(stopAllKernels);

/** Pids whose command line mentions the folder (the embedded postgres names its data dir). */
function processesUsing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const env = { MODULES__NOTES__READ_ONLY: 'false', MODULES__NOTES__DRY_RUN: 'false' };

describe('embedded PostgreSQL default', () => {
  const modulesDir = tempDir('modules');
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  const dataDir = tempDir('data');
  // notes declares permissions: the admin credential acts as hub.admin on the public origin
  const asAdmin = (k: RunningKernel) => ({ authorization: `Bearer ${k.adminToken()}` });

  it('starts from a clean data folder, migrates and stores data', async () => {
    const k = await startKernel({ modulesDir, dataDir, embedded: true, env });
    expect(k.lines.join('\n')).not.toMatch(/5432/);
    const rec = await k.record('notes');
    expect(rec).toMatchObject({ state: 'running', db_isolation: 'role' });
    // issue 11.13: the embedded server checks passwords (scram), so no trust warning
    // and the server's other databases are closed to module roles (red team: a runtime role logged in to "postgres")
    expect(await k.json('/health')).toMatchObject({ database: { trusts_passwords: false, open_to_all_roles: [] }, warnings: [] });
    expect(k.lines.join('\n')).not.toMatch(/without checking passwords/);
    const created = await k.json('/api/v1/notes/notes', { method: 'POST', body: JSON.stringify({ title: 'first', body: 'kept' }), headers: { 'content-type': 'application/json', ...asAdmin(k) } });
    expect(created).toMatchObject({ success: true, id: 1 });
    expect(await k.stop()).toBe(0);
  });

  it('keeps the data across a clean restart', async () => {
    const k = await startKernel({ modulesDir, dataDir, embedded: true, env });
    const notes = await k.json<any[]>('/api/v1/notes/notes', { headers: asAdmin(k) });
    expect(notes.map((n) => n.title)).toEqual(['first']);
    await k.json('/api/v1/notes/notes', { method: 'POST', body: JSON.stringify({ title: 'second' }), headers: { 'content-type': 'application/json', ...asAdmin(k) } });
    const childPid = (await k.record('notes')).pid;
    // the kernel dies without cleaning up: its children and the database stay behind for a moment
    await k.stop('SIGKILL');
    await waitFor(() => !pidAlive(childPid), { what: 'the orphaned child to exit' });
  });

  it('starts again after the kernel was SIGKILLed, with every row there', async () => {
    const k = await startKernel({ modulesDir, dataDir, embedded: true, env });
    const notes = await k.json<any[]>('/api/v1/notes/notes', { headers: asAdmin(k) });
    expect(notes.map((n) => n.title).sort()).toEqual(['first', 'second']);
    expect(k.lines.join('\n')).not.toMatch(/"level":(50|60)/);
    expect(await k.stop()).toBe(0);
    // a clean stop takes the database server down too
    await waitFor(() => processesUsing(dataDir).length === 0, { what: 'no process left on the data folder' });
  });
});
