// Issue 15 item 4, checked by the independent pass (i15): "identity headers sent by a client
// are dropped" and a module never receives a hub credential, whatever spelling the client
// uses. Sent to a module that declares no permissions (so every request reaches the child),
// each variant below must arrive with no session id, API token or admin token anywhere in
// the child's headers, and no identity the kernel did not vouch for. The existing gateway
// test covers the canonical spellings; these are the other doors (scheme case, whitespace,
// the __Host- name, a duplicate header, a forged x-hub-user in any case).
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn, type SignedIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let db: TestDatabase;
let k: RunningKernel;
let alice: SignedIn;
const dirs: string[] = [];
const echo = `export default (router) => { router.all('/e', (req, res) => res.json({ user: req.user, raw: req.rawHeaders })); };`;

/** One request written by hand (duplicate headers, odd spellings), answered body parsed. */
function raw(port: number, head: string): Promise<{ user: unknown; raw: string[] }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${head}Connection: close\r\n\r\n`));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => {
      try {
        resolve(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)));
      } catch (e) {
        reject(new Error(`no JSON answer: ${out.slice(0, 200)} (${(e as Error).message})`));
      }
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  dirs.push(modulesDir);
  writeModule(modulesDir, 'echo', { router: echo });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  dirs.push(k.dataDir);
  alice = await signIn(k, 'alice', []);
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('hub credentials never reach a module', () => {
  it('in any spelling of the bearer scheme, the session cookie or a duplicate header', async () => {
    const token = await alice.token();
    const sid = alice.cookie.split('=')[1]!;
    const admin = k.adminToken()!;
    const host = `Host: 127.0.0.1:${k.port}\r\n`;
    const variants: [string, string][] = [
      ['lower-case bearer, token', `Authorization: bearer ${token}\r\n`],
      ['upper-case bearer, admin token', `Authorization: BEARER ${admin}\r\n`],
      ['tab after Bearer', `Authorization: Bearer\t${token}\r\n`],
      ['leading space, admin token', `Authorization:   Bearer ${admin}\r\n`],
      ['second Authorization header', `Authorization: Basic eDp5\r\nAuthorization: Bearer ${token}\r\n`],
      ['session cookie among others', `Cookie: a=1;hub_session=${sid};b=2\r\n`],
      ['__Host- session cookie', `Cookie: __Host-hub_session=${sid}\r\n`],
      ['spaces around =', `Cookie: hub_session = ${sid}\r\n`],
      ['second Cookie header', `Cookie: x=1\r\nCookie: hub_session=${sid}\r\n`],
      ['admin dashboard cookie', `Cookie: hub_admin_session=${sid}\r\n`],
    ];
    for (const [what, headers] of variants) {
      const seen = await raw(k.port, `GET /api/v1/echo/e HTTP/1.1\r\n${host}${headers}`);
      const text = JSON.stringify(seen.raw);
      expect(text.includes(token), what).toBe(false);
      expect(text.includes(admin), what).toBe(false);
      expect(text.includes(sid), what).toBe(false);
    }
  });

  it('a forged x-hub-user in any case or repeated is dropped; only the kernel-vouched user arrives', async () => {
    const forged = 'eyJpZCI6MSwidXNlcm5hbWUiOiJhZG1pbiIsInBlcm1pc3Npb25zIjpbXX0.AAAA';
    const seen = await raw(k.port, `GET /api/v1/echo/e HTTP/1.1\r\nHost: 127.0.0.1:${k.port}\r\nX-Hub-User: ${forged}\r\nx-hub-user: ${forged}\r\nX-HUB-USER: ${forged}\r\n`);
    expect(seen.user).toBeNull();
    expect(JSON.stringify(seen.raw)).not.toContain(forged);
    const sid = alice.cookie.split('=')[1]!;
    const signed = await raw(k.port, `GET /api/v1/echo/e HTTP/1.1\r\nHost: 127.0.0.1:${k.port}\r\nX-Hub-User: ${forged}\r\nCookie: hub_session=${sid}\r\n`);
    expect(signed.user).toEqual({ id: alice.id, username: 'alice', permissions: [] });
    expect(JSON.stringify(signed.raw).toLowerCase()).not.toContain('x-hub-user');
  });
});
