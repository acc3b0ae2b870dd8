// `npm test` runs `hubctl test --all` on the modules the hub ships (modules/, the template
// included): every check of every module must pass, warnings included (a shipped module has
// down sections and tests of its own).
import { describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { join } from 'node:path';
import { ADMIN_URL } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { tempDir } from './helpers/modules.js';

describe('shipped modules under hubctl test --all', () => {
  it('every module passes every check', async () => {
    const r = await hubctl(['test', '--all', '--json'], { HUB_MODULES_DIR: join(HUB_ROOT, 'modules'), HUB_DATA_DIR: tempDir('data'), DATABASE_URL: ADMIN_URL });
    const doc = JSON.parse(r.stdout) as { modules: { module: string; checks: { name: string; status: string; message: string | null }[] }[] };
    expect(doc.modules.map((m) => m.module).sort()).toEqual(['invoice_parser', 'notes', 'template_module']);
    const notPassed = doc.modules.flatMap((m) => m.checks.filter((c) => c.status !== 'pass').map((c) => `${m.module} / ${c.name}: ${c.status}: ${c.message}`));
    expect(notPassed).toEqual([]);
    expect(r.code).toBe(0);
  }, 300_000);
});
