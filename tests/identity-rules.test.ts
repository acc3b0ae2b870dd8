// Issue 15's rules as pure functions, without a kernel: the manifest's permission fields,
// what grants give, which paths are public, the sign-in throttle, redirect targets, and the
// audit trail's cap under a flood of refusals.
import { describe, expect, it } from 'vitest';
import { safeNext } from '../kernel/auth-routes.js';
import { SignInLimiter } from '../kernel/auth-rate-limit.js';
import { AuditTrail } from '../kernel/identity-audit.js';
import { isPublicRoute } from '../kernel/identity-gate.js';
import { modulePermissions, parseGrant } from '../shared/grants.js';
import { parseManifest } from '../shared/manifest.js';

const manifest = (extra: Record<string, unknown>) =>
  JSON.stringify({ name: 'notes', version: '1.0.0', table_prefix: 'notes_', api_prefix: '/api/v1/notes', ...extra });
const parse = (extra: Record<string, unknown>) => parseManifest(manifest(extra), 'modules/notes/module.json', 'notes').manifest;
const refusal = (extra: Record<string, unknown>) => {
  try {
    parse(extra);
  } catch (e) {
    return { code: (e as { code: string }).code, field: (e as { details?: { field?: string } }).details?.field, message: (e as Error).message };
  }
  return null;
};

describe('module.json permissions, roles, public_routes', () => {
  it('accepts the declared shape and defaults to none', () => {
    const m = parse({ permissions: { read: 'r', write: 'w' }, roles: { editor: ['read', 'write'] }, public_routes: ['POST /api/v1/notes/hook', 'GET /notes/public/*'] });
    expect(m.roles).toEqual({ editor: ['read', 'write'] });
    expect(parse({})).toMatchObject({ permissions: {}, roles: {}, public_routes: [] });
  });

  it('refuses a role naming an undeclared permission, bad names and public routes outside the module', () => {
    expect(refusal({ permissions: { read: 'r' }, roles: { editor: ['read', 'write'] } })).toMatchObject({ code: 'manifest_invalid', field: 'roles.editor' });
    expect(refusal({ permissions: { 'Read-All': 'x' } })).toMatchObject({ code: 'manifest_invalid' });
    expect(refusal({ public_routes: ['GET /api/v1/billing/x'] })).toMatchObject({ code: 'manifest_invalid', field: 'public_routes.0' });
    expect(refusal({ public_routes: ['GET /api/v1/notes/../billing'] })).toMatchObject({ code: 'manifest_invalid', field: 'public_routes.0' });
    expect(refusal({ public_routes: ['/api/v1/notes/x'] })).toMatchObject({ code: 'manifest_invalid', field: 'public_routes.0' });
    expect(refusal({ public_routes: ['FETCH /api/v1/notes/x'] })).toMatchObject({ code: 'manifest_invalid' });
  });
});

describe('grants', () => {
  const declared = { permissions: { read: 'r', write: 'w', audit: 'a' }, roles: { viewer: ['read'], editor: ['read', 'write'] } };
  it('give a module its roles\' and declared permissions only; hub.admin gives all', () => {
    expect(modulePermissions(['notes.editor'], 'notes', declared)).toEqual(['read', 'write']);
    expect(modulePermissions(['notes.viewer', 'notes.audit'], 'notes', declared)).toEqual(['audit', 'read']);
    expect(modulePermissions(['billing.editor', 'notes.nonsense'], 'notes', declared)).toEqual([]);
    expect(modulePermissions(['hub.admin'], 'notes', declared)).toEqual(['audit', 'read', 'write']);
    // a role named like an inherited object property is not a role
    expect(modulePermissions(['notes.constructor', 'notes.tostring'], 'notes', declared)).toEqual([]);
  });

  it('parse only <module>.<name> and hub.admin', () => {
    expect(parseGrant('notes.editor')).toEqual({ module: 'notes', name: 'editor' });
    expect(parseGrant('hub.admin')).toEqual({ module: 'hub', name: 'admin' });
    for (const bad of ['notes', 'notes.', '.editor', 'Notes.editor', 'notes.editor.x', 'notes.ed itor', '']) expect(parseGrant(bad), bad).toBeNull();
  });
});

describe('public paths', () => {
  const m = parse({ permissions: { read: 'r' }, public_routes: ['POST /api/v1/notes/hook', 'GET /notes/public/*'] });
  it('are health, the declared routes (GET also covering HEAD), and nothing that only looks like them', () => {
    expect(isPublicRoute(m, 'GET', '/api/v1/notes/health')).toBe(true);
    expect(isPublicRoute(m, 'GET', '/api/v1/notes/health?x=1')).toBe(true);
    expect(isPublicRoute(m, 'POST', '/api/v1/notes/hook')).toBe(true);
    expect(isPublicRoute(m, 'GET', '/api/v1/notes/hook')).toBe(false);
    expect(isPublicRoute(m, 'HEAD', '/notes/public/a/b.css')).toBe(true);
    expect(isPublicRoute(m, 'GET', '/notes/public')).toBe(true);
    expect(isPublicRoute(m, 'GET', '/notes/publicity')).toBe(false);
    for (const sneaky of ['/notes/public/../secret', '/notes/public/%2e%2e/secret', '/notes/public/..%2fsecret', '/notes/public/.%2E/x', '/notes/public/..\\secret', '/api/v1/notes/health/../notes']) {
      expect(isPublicRoute(m, 'GET', sneaky), sneaky).toBe(false);
    }
  });
});

describe('sign-in throttle', () => {
  it('refuses the 6th try for a name from one address, other addresses and names go on, and the window ends', () => {
    const l = new SignInLimiter(1000);
    for (let i = 0; i < 5; i++) {
      l.check('alice', '10.0.0.1', 0);
      l.fail('alice', '10.0.0.1', 0);
    }
    expect(() => l.check('alice', '10.0.0.1', 10)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    expect(() => l.check('alice', '10.0.0.2', 10)).not.toThrow();
    expect(() => l.check('bob', '10.0.0.1', 10)).not.toThrow();
    expect(() => l.check('alice', '10.0.0.1', 1001)).not.toThrow();
  });

  it('caps one address over many names at 30 failures', () => {
    const l = new SignInLimiter(1000);
    for (let i = 0; i < 30; i++) l.fail(`user${i}`, '10.0.0.9', 0);
    expect(() => l.check('fresh', '10.0.0.9', 1)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });
});

describe('redirect targets after sign-in', () => {
  it('are same-site paths only', () => {
    expect(safeNext('/notes?q=1')).toBe('/notes?q=1');
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example', 'javascript:alert(1)', '', 42, '/a b', '/\u2028x']) expect(safeNext(bad), String(bad)).toBe('/');
  });
});

describe('audit trail under a flood', () => {
  it('writes at most 200 rows per flush and counts the rest in one overflow row', async () => {
    const inserts: unknown[][] = [];
    const pool = { query: async (_sql: string, params: unknown[]) => void inserts.push(params) } as never;
    const audit = new AuditTrail(pool, { warn: () => undefined } as never);
    for (let i = 0; i < 5000; i++) audit.record({ actor: `anonymous@10.0.0.${i % 250}`, action: 'request.refused', target: 'x'.repeat(1000), result: 'unauthenticated' });
    await audit.flushNow();
    expect(inserts).toHaveLength(1);
    const [actors, actions, targets] = inserts[0] as string[][];
    expect(actors).toHaveLength(201);
    expect(actions!.at(-1)).toBe('audit.overflow');
    expect(Math.max(...targets!.map((t) => t.length))).toBeLessThanOrEqual(300);
    expect(JSON.parse((inserts[0] as string[][])[4]!.at(-1)!)).toEqual({ events: 4800 });
  });
});

describe('made-up credentials', () => {
  it('are nobody without a lookup unless they have the shape the hub issues', async () => {
    const { resolveIdentity } = await import('../kernel/identity-resolve.js');
    const looked: string[] = [];
    const cache = { token: (t: string) => (looked.push(t), null), session: (s: string) => (looked.push(s), null) } as never;
    const req = (headers: Record<string, string>) => ({ headers }) as never;
    const digest = Buffer.alloc(32);
    for (const h of <Record<string, string>[]>[
      { authorization: 'Bearer bmc_pat_short' },
      { authorization: `Bearer bmc_pat_${'a'.repeat(44)}` },
      { authorization: `Bearer bmc_pat_${'a'.repeat(42)}!` },
      { cookie: 'hub_session=abc' },
      { cookie: `hub_session=${'a'.repeat(42)}'` },
    ]) expect(resolveIdentity(req(h), cache, digest)).toBeNull();
    expect(looked).toEqual([]);
    resolveIdentity(req({ authorization: `Bearer bmc_pat_${'a'.repeat(43)}` }), cache, digest);
    resolveIdentity(req({ cookie: `theme=x; hub_session=${'b'.repeat(43)}` }), cache, digest);
    expect(looked).toEqual([`bmc_pat_${'a'.repeat(43)}`, 'b'.repeat(43)]);
  });
});

describe('kernel paths modules may not take', () => {
  it('refuse a module named login (it would be served the sign-in page path)', () => {
    const bad = (() => {
      try {
        parseManifest(JSON.stringify({ name: 'login', version: '1.0.0', table_prefix: 'login_', api_prefix: '/api/v1/login' }), 'modules/login/module.json', 'login');
      } catch (e) {
        return (e as { code: string }).code;
      }
      return null;
    })();
    expect(bad).toBe('manifest_invalid');
  });

  it('refuse an api_prefix over the sign-in, user and audit routes (a module there would receive every password posted)', async () => {
    const { applyCrossModuleRules } = await import('../kernel/registry-rules.js');
    for (const prefix of ['/api/v1/auth', '/api/v1/auth/login', '/api/v1/users', '/api/v1/audit']) {
      const manifest = parseManifest(JSON.stringify({ name: 'thief', version: '1.0.0', enabled: true, table_prefix: 'thief_', api_prefix: prefix }), 'modules/thief/module.json', 'thief').manifest;
      const entry = { name: 'thief', dir: '/nonexistent', manifest, warnings: [], error: null } as never as { error: { code: string; message: string } | null };
      applyCrossModuleRules([entry as never], '1.0.0');
      expect(entry.error?.code, prefix).toBe('manifest_invalid');
      expect(entry.error?.message).toMatch(/overlaps the kernel route/);
    }
  });
});

describe('sign-in throttle across addresses (F3)', () => {
  it('limits one username over 200 addresses: 1000 guesses at admin get at most 20 through, and the window ends', async () => {
    const { MAX_NAME_FAILURES } = await import('../kernel/auth-rate-limit.js');
    const l = new SignInLimiter(1000, 5000);
    let through = 0;
    let retry = 0;
    for (let i = 0; i < 1000; i++) {
      const ip = `10.1.${i % 200}.${(i * 7) % 250}`;
      try {
        l.check('admin', ip, 10);
        through++;
        l.fail('admin', ip, 10);
      } catch (e) {
        expect((e as { code: string }).code).toBe('rate_limited');
        retry = (e as { details: { retry_after_s: number } }).details.retry_after_s;
      }
    }
    expect(through).toBe(MAX_NAME_FAILURES);
    expect(retry).toBe(5);
    // a slowdown, not a lockout: after the window the name may try again
    expect(() => l.check('admin', '10.9.9.9', 5011)).not.toThrow();
    // other names are not held back by it
    expect(() => l.check('bob', '10.1.0.0', 11)).not.toThrow();
  });

  it('counts every loopback address as one client and IPv6 by its /64', async () => {
    const { clientKey } = await import('../kernel/auth-rate-limit.js');
    expect(clientKey('127.0.0.1')).toBe('loopback');
    expect(clientKey('127.0.0.77')).toBe('loopback');
    expect(clientKey('::ffff:127.3.2.1')).toBe('loopback');
    expect(clientKey('::1')).toBe('loopback');
    expect(clientKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe(clientKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(clientKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:3::1')).not.toBe(clientKey('2001:db8:1:2::1'));
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    const l = new SignInLimiter(1000);
    for (let i = 0; i < 5; i++) l.fail('alice', `127.0.0.${i + 2}`, 0);
    expect(() => l.check('alice', '127.0.0.200', 1)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    for (let i = 0; i < 5; i++) l.fail('carl', `2001:db8:1:2::${i + 1}`, 0);
    expect(() => l.check('carl', '2001:db8:1:2:ffff::9', 1)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });

  it('cannot be flushed by filling the map: limits in force survive 10x the cap of made-up names', () => {
    const l = new SignInLimiter(60_000, 60_000, 1000);
    for (let i = 0; i < 5; i++) l.fail('admin', '10.0.0.1', 0);
    for (let i = 0; i < 10_000; i++) l.fail(`junk${i}`, `10.2.${(i >> 8) & 255}.${i & 255}`, 1);
    expect(l.size).toBeLessThanOrEqual(1000);
    expect(() => l.check('admin', '10.0.0.1', 2)).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });
});
