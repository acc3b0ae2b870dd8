// Signing a test user in on a running test kernel: the user is created with the asked grants
// through the admin API (admin origin, admin token), signs in with a password on the public
// origin, and gets a personal API token (bmc_pat_…) for its requests.
import { randomBytes } from 'node:crypto';

export interface SignedInUser {
  username: string;
  id: number;
  grants: string[];
  /** A personal API token (`bmc_pat_…`), valid for a day. */
  token: string;
  /** `hub_session=…` for a Cookie header (the browser way in; the token is simpler). */
  cookie: string;
  /** `{ authorization: 'Bearer bmc_pat_…' }`, to spread into fetch's headers. */
  headers: Record<string, string>;
  /** fetch on the public origin as this user (`path` starting with /). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface SignInTarget {
  url: string;
  adminUrl: string;
  adminToken: string;
}

async function expect(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new Error(`bmc-hub/testing: ${what} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res;
}

/**
 * Creates user `username` (default `user_<hex>`) with `grants` (e.g. `notes.editor`,
 * `notes.read`, `hub.admin`), signs them in and makes a token. Errors name the step and the
 * hub's answer (e.g. a grant the hub does not know is refused with 400).
 */
export async function signInUser(k: SignInTarget, grants: string[], username = `user_${randomBytes(4).toString('hex')}`): Promise<SignedInUser> {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  await expect(
    await fetch(`${k.adminUrl}/api/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${k.adminToken}` },
      body: JSON.stringify({ username, password, grants }),
    }),
    201,
    `creating user ${username} with grants [${grants.join(', ')}]`,
  );
  const login = await expect(
    await fetch(`${k.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) }),
    200,
    `signing in ${username}`,
  );
  const id = ((await login.json()) as { user: { id: number } }).user.id;
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const made = await expect(
    await fetch(`${k.url}/api/v1/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ name: 'bmc-hub/testing', expires_in_days: 1, password }), // a cookie alone cannot mint a token
    }),
    201,
    `making a token for ${username}`,
  );
  const token = ((await made.json()) as { token: string }).token;
  const headers = { authorization: `Bearer ${token}` };
  return {
    username,
    id,
    grants,
    token,
    cookie,
    headers,
    fetch(path, init = {}) {
      const h = new Headers(init.headers);
      if (!h.has('authorization')) h.set('authorization', headers.authorization);
      return fetch(k.url + path, { ...init, headers: h });
    },
  };
}
