// Issue 11, item 13, through another door: a pg_hba.conf that trusts only some roles
// (`host all postgres 127.0.0.1/32 trust` above a scram line, a common "let me in as
// postgres" shortcut). The probe logged in as a role that does not exist, which that line
// does not match, so it reported a server that checks passwords, while any module could log
// in as the superuser (red team). The right value: the probe reports the trust. Runs on a
// private embedded PostgreSQL whose pg_hba.conf the test edits (never the shared server's).
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePasswordTrust } from '../kernel/database-trust.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../kernel/embedded-postgres.js';
import { createLogger } from '../shared/logger.js';
import { tempDir } from './helpers/modules.js';

let server: EmbeddedPostgres | undefined;
let hba: string;

async function superuserQuery(sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: server!.connectionString });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Puts `line` first in pg_hba.conf (first match wins) and reloads the server. */
async function trustFirst(line: string): Promise<void> {
  writeFileSync(hba, `${line}\n${readFileSync(hba, 'utf8')}`);
  await superuserQuery('SELECT pg_reload_conf()');
}

beforeAll(async () => {
  server = await startEmbeddedPostgres({ dataDir: tempDir('trust-data'), log: createLogger({ level: 'silent' }) });
  hba = (await superuserQuery('SHOW hba_file')).rows[0].hba_file as string;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('a server that trusts some roles only', () => {
  it('checks passwords everywhere at first: the probe says so', async () => {
    expect(await probePasswordTrust(server!)).toBe(false);
  });

  it('trusting only the superuser is reported: a module could log in as it', async () => {
    await trustFirst('host all postgres 127.0.0.1/32 trust');
    const c = new pg.Client({ host: server!.host, port: server!.port, database: server!.database, user: 'postgres', password: 'wrong' });
    await c.connect(); // the hole the probe must see
    await c.end();
    expect(await probePasswordTrust(server!)).toBe(true);
  });

  it("trusting only the kernel's own login is reported too", async () => {
    writeFileSync(hba, readFileSync(hba, 'utf8').split('\n').slice(1).join('\n'));
    await superuserQuery("CREATE ROLE hub_kernel_login LOGIN PASSWORD 'k-secret'");
    await trustFirst('host all hub_kernel_login 127.0.0.1/32 trust');
    expect(await probePasswordTrust({ ...server!, user: 'hub_kernel_login', password: 'k-secret' })).toBe(true);
  });
});
