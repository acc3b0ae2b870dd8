// The identity cache must not bring back what a revocation took away. A session read that was
// in flight when the session ended (sign-out, revoked grant, changed password: each clears the
// cache) finished after the clear and was cached as live for IDENTITY_TTL_MS (10 s): the
// sign-out, promised to reach every kernel within a second, did not reach this one for 10 s.
// The store here is a stand-in whose answers the test releases by hand; the cache is real.
import { describe, expect, it } from 'vitest';
import { IdentityCache } from '../../kernel/identity-cache.js';
import type { Identity, IdentityStore } from '../../kernel/identity-store.js';
import type { Logger } from '../../shared/logger.js';
import { waitFor } from '../../shared/testing/wait.js';

const alice: Identity = { id: 7, username: 'alice', grants: ['notes.editor'], via: 'session' };

function storeWithGate() {
  let live = true;
  let reads = 0;
  const waiting: (() => void)[] = [];
  const store = {
    async sessionIdentity() {
      reads++;
      const answer = live ? alice : null; // what the database says when the query runs
      await new Promise<void>((r) => waiting.push(r)); // the answer's way back, released by the test
      return answer;
    },
  } as unknown as IdentityStore;
  return {
    store,
    revoke: () => { live = false; },
    release: () => { for (const r of waiting.splice(0)) r(); },
    get reads() { return reads; },
  };
}

const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

describe('IdentityCache', () => {
  it('does not cache a lookup that was in flight when the cache was cleared (a revocation)', async () => {
    const s = storeWithGate();
    const cache = new IdentityCache(s.store, log);
    const inFlight = cache.session('S');
    expect(inFlight).toBeInstanceOf(Promise);
    s.revoke();
    cache.clear(); // the sign-out on this kernel, or the generation moving
    s.release();
    expect(await inFlight).toEqual(alice); // the request that asked before the revocation
    const next = cache.session('S');
    expect(next).toBeInstanceOf(Promise); // not served from the cache
    s.release();
    expect(await next).toBeNull();
    expect(s.reads).toBe(2);
  });

  it('still caches a lookup when nothing was cleared meanwhile', async () => {
    const s = storeWithGate();
    const cache = new IdentityCache(s.store, log);
    const first = cache.session('S');
    s.release();
    expect(await first).toEqual(alice);
    expect(cache.session('S')).toEqual(alice);
    expect(s.reads).toBe(1);
  });
});

describe('IdentityCache and expiry', () => {
  it('does not serve a session past its own expiry, even within the 10 s a lookup is trusted', async () => {
    const expiresAt = Date.now() + 100;
    let reads = 0;
    const store = { async sessionIdentity() { reads++; return reads === 1 ? { ...alice, expiresAt } : null; } } as unknown as IdentityStore;
    const cache = new IdentityCache(store, log);
    expect(await cache.session('S')).toMatchObject({ username: 'alice' });
    expect(cache.session('S')).toMatchObject({ username: 'alice' }); // cached while live
    await waitFor(() => Date.now() > expiresAt, { what: 'the session expiry to pass' });
    const after = cache.session('S');
    expect(after).toBeInstanceOf(Promise); // read again, not served from the cache
    expect(await after).toBeNull();
    expect(reads).toBe(2);
  });
});
