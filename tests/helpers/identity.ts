// Signing tests in: creates a user with grants through the admin API (admin origin, admin
// credential) and signs them in on the public origin, so a test can call protected module
// routes as that user by cookie or by personal API token.
import { randomBytes } from 'node:crypto';
import type { RunningKernel } from './kernel.js';

export interface SignedIn {
  username: string;
  password: string;
  id: number;
  /** `hub_session=<id>` for a Cookie header. */
  cookie: string;
  /** fetch on the public origin with this user's session cookie. */
  get(path: string, init?: RequestInit): Promise<Response>;
  /** A personal API token (`bmc_pat_…`) for this user, made on first use. */
  token(): Promise<string>;
}

/** Creates `username` (unless it exists) with `grants`, signs in, and returns a handle. */
export async function signIn(k: RunningKernel, username: string, grants: string[] = []): Promise<SignedIn> {
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const created = await k.admin('/api/v1/users', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, grants }),
  });
  if (created.status !== 201) throw new Error(`could not create ${username}: ${created.status} ${await created.text()}`);
  return signInAs(k, username, password);
}

/** Signs an existing user in with a password. */
export async function signInAs(k: RunningKernel, username: string, password: string): Promise<SignedIn> {
  const res = await k.get('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`sign-in of ${username} failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { user: { id: number } };
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  let token: string | undefined;
  const get = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('cookie', headers.has('cookie') ? `${headers.get('cookie')}; ${cookie}` : cookie);
    return k.get(path, { ...init, headers });
  };
  return {
    username,
    password,
    id: body.user.id,
    cookie,
    get,
    async token() {
      if (token) return token;
      const r = await get('/api/v1/auth/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'test', expires_in_days: 1, password }) });
      if (r.status !== 201) throw new Error(`token for ${username}: ${r.status} ${await r.text()}`);
      token = ((await r.json()) as { token: string }).token;
      return token;
    },
  };
}

/**
 * Makes `k.get` and `k.json` send `authorization` (default: the admin credential, which acts
 * as hub.admin) unless a call sets its own: for suites about a module's behaviour, not about
 * who may call it. Returns `k`.
 */
export function authorize(k: RunningKernel, authorization = `Bearer ${k.adminToken()}`): RunningKernel {
  const add = (init: RequestInit = {}): RequestInit => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', authorization);
    return { ...init, headers };
  };
  const get = k.get;
  const json = k.json;
  k.get = (path, init) => get(path, add(init));
  k.json = <T,>(path: string, init?: RequestInit) => json<T>(path, add(init));
  return k;
}
