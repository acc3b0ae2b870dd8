// Issue 17: a module child loads only what its module uses. The real child program, told to
// become a module that uses no database, templates or tasks, must not have loaded pg, ejs,
// piscina, zod or semver by the time it reports ready (tests/helpers/child-trace.ts).
import { describe, expect, it } from 'vitest';
import { childStartPackages } from './helpers/child-trace.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

describe('module child start', () => {
  it('loads express and pino, and not pg, ejs, piscina, zod or semver', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'plain', { router: helloRouter });
    const loaded = await childStartPackages(modulesDir, 'plain');
    expect(loaded).toContain('express');
    expect(loaded).toContain('pino');
    for (const lazy of ['pg', 'ejs', 'piscina', 'zod', 'semver']) expect(loaded).not.toContain(lazy);
  }, 60_000);
});
