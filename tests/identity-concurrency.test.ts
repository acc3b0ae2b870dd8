// Issue 15, checked by the independent pass (i15): a limit on password guesses must hold when
// the guesses arrive at once. The sign-in route checked the limiter, then spent ~30 ms in
// argon2, and only then counted the failure: 60 guesses sent together all passed the check
// before the first was counted, so every one of them was verified (and the right password
// among them signed in), where the limit promises 5.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn, type SignedIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';

let db: TestDatabase;
let k: RunningKernel;
const dirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  dirs.push(modulesDir);
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  dirs.push(k.dataDir);
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const login = (username: string, password: string) =>
  k.get('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((t, s) => ((t[s] = (t[s] ?? 0) + 1), t), {});

describe('sign-in throttle under concurrent guesses', () => {
  it('a right password after a few failures still signs in and clears that count', async () => {
    const ida = await signIn(k, 'ida', []);
    for (let i = 0; i < 3; i++) expect((await login('ida', `nope-${i}`)).status).toBe(401);
    expect((await login('ida', ida.password)).status).toBe(200);
    // a success clears this client's count for the name: five more failures are needed to be refused
    for (let i = 0; i < 4; i++) expect((await login('ida', `nope-again-${i}`)).status).toBe(401);
    expect((await login('ida', ida.password)).status).toBe(200);
  }, 60_000);

  it('checks at most 5 of 60 guesses sent at once; the right password among the rest is 429, not a sign-in', async () => {
    const gus: SignedIn = await signIn(k, 'gus', []);
    await k.get('/api/v1/auth/logout', { method: 'POST', headers: { cookie: gus.cookie } });
    const guesses = Array.from({ length: 60 }, (_, i) => (i === 59 ? gus.password : `guess-${i}`));
    const statuses = await Promise.all(guesses.map(async (p) => (await login('gus', p)).status));
    const t = tally(statuses);
    expect(t[200] ?? 0, JSON.stringify(t)).toBe(0);
    expect(t[401] ?? 0, JSON.stringify(t)).toBeLessThanOrEqual(5);
    expect(t[429], JSON.stringify(t)).toBeGreaterThanOrEqual(55);
  }, 60_000);

  it('browser token confirmations sent at once are throttled the same way', async () => {
    const hal = await signIn(k, 'hal', []);
    const tries = Array.from({ length: 40 }, (_, i) => (i === 39 ? hal.password : `wrong-${i}`));
    const statuses = await Promise.all(tries.map(async (password) => (await hal.get('/api/v1/auth/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ name: 'x', expires_in_days: 1, password }),
    })).status));
    const t = tally(statuses);
    expect(t[201] ?? 0, JSON.stringify(t)).toBe(0);
    expect(t[403] ?? 0, JSON.stringify(t)).toBeLessThanOrEqual(5);
    expect(t[429], JSON.stringify(t)).toBeGreaterThanOrEqual(35);
  }, 60_000);
});

describe('SignInLimiter.begin', () => {
  it('counts an attempt before its password is checked; succeed takes only that one back', async () => {
    const { SignInLimiter } = await import('../kernel/auth-rate-limit.js');
    const l = new SignInLimiter();
    for (let i = 0; i < 5; i++) l.begin('jo', '10.0.0.1', 0);
    expect(() => l.begin('jo', '10.0.0.1', 1)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    // one address, many names: 30 attempts in flight at once reach the client's limit
    const m = new SignInLimiter();
    for (let i = 0; i < 30; i++) m.begin(`n${i}`, '10.0.0.2', 0);
    expect(() => m.begin('fresh', '10.0.0.2', 1)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    // successes give their own attempt back, not earlier failures
    const s = new SignInLimiter();
    for (let i = 0; i < 29; i++) s.begin(`x${i}`, '10.0.0.3', 0);
    for (let i = 0; i < 10; i++) {
      s.begin('ok', '10.0.0.3', 0);
      s.succeed('ok', '10.0.0.3', 0);
    }
    s.begin('y', '10.0.0.3', 0);
    expect(() => s.begin('z', '10.0.0.3', 1)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });
});
