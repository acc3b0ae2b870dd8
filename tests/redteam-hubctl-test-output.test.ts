// Red team: `hubctl test` prints what a module's SQL and child said (a migration's error, the
// child's last_error). Module SQL and code are hostile input: their text must reach the
// operator's terminal without control sequences (retitle, clear screen, cursor moves).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ADMIN_URL } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { writeTestedModule } from './helpers/module-tests.js';
import { tempDir } from './helpers/modules.js';

describe('hubctl test output with hostile module text', () => {
  it("a migration's error carrying escape sequences is printed without them", async () => {
    const modulesDir = tempDir('modules');
    const name = `rtesc${randomBytes(3).toString('hex')}`;
    writeTestedModule(modulesDir, name, {
      migrations: { '001_init.sql': `DO $$ BEGIN RAISE EXCEPTION E'\\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;1Hboom'; END $$;\n-- migrate:down\nSELECT 1;\n` },
    });
    const run = await hubctl(['test', name], { HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('data'), DATABASE_URL: ADMIN_URL, NO_COLOR: '1' });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/boom/);
    // NO_COLOR: hubctl itself writes no escape at all, so any ESC came from the module
    expect(run.stdout).not.toMatch(/\x1b/);
    expect(run.stdout).not.toMatch(/\x07/);
  });
});
