// The gateway cost of identity (issue 15, "Numbers"): kernel CPU per proxied request for the
// same /ping route anonymous (a module that declares no permissions), with a session cookie
// and with a bearer token (a module that does), legs alternated in one run so machine noise
// hits all alike. Session and token lookups are cached, so after the first request each leg
// costs a Map lookup, the header drops and one cached x-hub-user stamp.
import autocannon from 'autocannon';
import { createTestDatabase } from '../tests/helpers/database.js';
import { signIn } from '../tests/helpers/identity.js';
import { startKernel } from '../tests/helpers/kernel.js';
import { tempDir, writeModule } from '../tests/helpers/modules.js';
import { benchRouter } from './fixtures.js';
import { median, processCpuMicros, round } from './stats.js';

export async function identityCost(opts: { pairs: number; durationS: number; connections: number }) {
  const db = await createTestDatabase();
  const dir = tempDir('bench-identity');
  writeModule(dir, 'open', { router: benchRouter });
  writeModule(dir, 'guarded', { router: benchRouter, manifest: { permissions: { read: 'read' }, roles: { reader: ['read'] } } });
  const k = await startKernel({ modulesDir: dir, databaseUrl: db.url });
  try {
    const user = await signIn(k, 'bench', ['guarded.reader']);
    const token = await user.token();
    const legs = {
      anonymous: { url: `${k.url}/api/v1/open/ping`, headers: {} as Record<string, string> },
      session_cookie: { url: `${k.url}/api/v1/guarded/ping`, headers: { cookie: user.cookie } },
      bearer_token: { url: `${k.url}/api/v1/guarded/ping`, headers: { authorization: `Bearer ${token}` } },
    };
    const run = async (leg: { url: string; headers: Record<string, string> }, durationS: number) => {
      const cpu0 = await processCpuMicros(k.proc.pid!);
      const r = await autocannon({ url: leg.url, headers: leg.headers, connections: opts.connections, duration: durationS, pipelining: 1 });
      const cpu1 = await processCpuMicros(k.proc.pid!);
      return { rps: round(r.requests.average, 0), us: round((cpu1 - cpu0) / r.requests.total, 1), clean: r.errors + r.timeouts + r.non2xx === 0 };
    };
    for (const leg of Object.values(legs)) await run(leg, 1);
    const samples: Record<string, { rps: number; us: number; clean: boolean }[]> = { anonymous: [], session_cookie: [], bearer_token: [] };
    for (let i = 0; i < opts.pairs; i++) for (const [name, leg] of Object.entries(legs)) samples[name]!.push(await run(leg, opts.durationS));
    const out = Object.fromEntries(
      Object.entries(samples).map(([name, s]) => [name, { median_kernel_cpu_us: round(median(s.map((x) => x.us)), 1), median_rps: round(median(s.map((x) => x.rps)), 0), all_clean: s.every((x) => x.clean) }]),
    );
    return { connections: opts.connections, pairs: opts.pairs, ...out };
  } finally {
    await k.stop();
    await db.drop();
  }
}

/**
 * The same three cases timed in-process in a tight loop (no network noise): the gateway's
 * identity gate per request with a warm cache, and the child's check of x-hub-user.
 */
export async function identityGateCost(iterations = 200_000) {
  const { createIdentityGate } = await import('../kernel/identity-gate.js');
  const { IdentityCache } = await import('../kernel/identity-cache.js');
  const { AuditTrail } = await import('../kernel/identity-audit.js');
  const { takeUser } = await import('../shared/runtime/identity-header.js');
  const { createHash } = await import('node:crypto');
  const { manifestSchema } = await import('../shared/manifest.js');
  const identity = { id: 7, username: 'bench', grants: ['guarded.reader'], via: 'session' as const };
  const store = { sessionIdentity: async () => identity, tokenIdentity: async () => ({ ...identity, via: 'token' as const, tokenId: 1 }), touchTokens: async () => undefined };
  const log = { warn: () => undefined } as never;
  const cache = new IdentityCache(store as never, log);
  const secret = 'x'.repeat(43);
  const gate = createIdentityGate({ cache, adminDigest: createHash('sha256').update('admin').digest(), secretOf: () => secret, audit: new AuditTrail(null, log) });
  const manifest = (permissions: Record<string, string>) =>
    manifestSchema.parse({ name: 'guarded', version: '1.0.0', table_prefix: 'g_', api_prefix: '/api/v1/guarded', permissions, roles: Object.keys(permissions).length ? { reader: ['read'] } : {} });
  const guarded = { name: 'guarded', entry: { manifest: manifest({ read: 'read' }) } };
  const open = { name: 'open', entry: { manifest: manifest({}) } };
  const sid = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
  const token = `bmc_pat_${sid}`;
  const request = (extra: Record<string, string>) => {
    const headers: Record<string, string> = { host: '127.0.0.1:8000', 'user-agent': 'Mozilla/5.0 Chrome/120.0', accept: 'application/json', 'x-request-id': '0f8c3c2e-5b9e-4c53-9d1c-3c1d0e8f7a21', ...extra };
    return { method: 'GET', url: '/api/v1/guarded/ping', headers, rawHeaders: Object.entries(headers).flat(), socket: {} } as never;
  };
  const res = { destroyed: false } as never;
  let passed = 0;
  const go = () => void passed++;
  await new Promise<void>((r) => gate(guarded, request({ cookie: `theme=dark; hub_session=${sid}` }), res, () => r()));
  await new Promise<void>((r) => gate(guarded, request({ authorization: `Bearer ${token}` }), res, () => r()));
  const time = (fn: () => void) => {
    for (let i = 0; i < 10_000; i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    return round(Number(process.hrtime.bigint() - t0) / 1000 / iterations, 2);
  };
  const baseline_us = time(() => void request({ cookie: `theme=dark; hub_session=${sid}` }));
  const anonymous_us = time(() => gate(open, request({}), res, go));
  const session_cookie_us = time(() => gate(guarded, request({ cookie: `theme=dark; hub_session=${sid}` }), res, go));
  const bearer_token_us = time(() => gate(guarded, request({ authorization: `Bearer ${token}` }), res, go));
  const header = (() => {
    const r = request({ cookie: `hub_session=${sid}` }) as { headers: Record<string, string> };
    gate(guarded, r as never, res, go);
    return r.headers['x-hub-user']!;
  })();
  const child_check_us = time(() => {
    const r = request({ 'x-hub-user': header });
    if (!takeUser(r, secret)) throw new Error('x-hub-user did not verify');
  });
  if (passed === 0) throw new Error('the gate passed nothing');
  return { iterations, baseline_us, anonymous_us, session_cookie_us, bearer_token_us, child_check_us };
}
