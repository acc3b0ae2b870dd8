// kernel/config.ts: every variable checked in one pass; a bad value is a problem, never a silent default.
import { describe, expect, it } from 'vitest';
import { checkModuleVariables, ConfigError, loadConfig } from '../../kernel/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/tmp');
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({}, '/srv');
    expect(c.port).toBe(8000);
    expect(c.adminPort).toBe(8001);
    expect(c.logLevel).toBe('info');
    expect(c.autoReload).toBe(false);
    expect(c.timing.startTimeoutMs).toBe(15_000);
    expect(c.modulesDir).toBe('/srv/modules');
  });
  it('reads HUB_REQUIRE_TESTED as a checked boolean, off by default', () => {
    expect(loadConfig({}, '/srv').requireTested).toBe(false);
    expect(loadConfig({ HUB_REQUIRE_TESTED: 'true' }, '/srv').requireTested).toBe(true);
    expect(problems({ HUB_REQUIRE_TESTED: 'ye' })).toEqual(['HUB_REQUIRE_TESTED="ye": expected one of true, false, 1, 0, yes, no, on, off (default false)']);
  });
  it('checks the sign-in settings: a typo never quietly means password sign-in or plain cookies', () => {
    const p = problems({ HUB_AUTH: 'oicd', HUB_SECURE_COOKIES: 'ture' });
    expect(p).toEqual([
      'HUB_AUTH="oicd": expected one of local, oidc (default local)',
      'HUB_SECURE_COOKIES="ture": expected one of true, false, 1, 0, yes, no, on, off (default false)',
    ]);
  });
  it('needs an issuer URL and a client id for HUB_AUTH=oidc, named one line each', () => {
    expect(problems({ HUB_AUTH: 'oidc' })).toEqual([
      'HUB_OIDC_ISSUER is unset: HUB_AUTH=oidc needs HUB_OIDC_ISSUER and HUB_OIDC_CLIENT_ID',
      'HUB_OIDC_CLIENT_ID is unset: HUB_AUTH=oidc needs HUB_OIDC_ISSUER and HUB_OIDC_CLIENT_ID',
    ]);
    expect(problems({ HUB_AUTH: 'oidc', HUB_OIDC_ISSUER: 'login.example', HUB_OIDC_CLIENT_ID: 'hub' })).toEqual([
      'HUB_OIDC_ISSUER="login.example": expected a URL such as https://login.example.com',
    ]);
    expect(loadConfig({ HUB_AUTH: 'oidc', HUB_OIDC_ISSUER: 'http://127.0.0.1:9/', HUB_OIDC_CLIENT_ID: 'hub' }, '/srv').oidc)
      .toEqual({ issuer: 'http://127.0.0.1:9/', clientId: 'hub', clientSecret: undefined, redirectUrl: undefined });
    expect(loadConfig({}, '/srv').oidc).toBeNull();
  });
  it('checks the front door, log echo and console settings too', () => {
    const p = problems({ HUB_MAX_CONNECTIONS: 'lots', HUB_HEADERS_TIMEOUT_MS: '-1', LOG_FORMAT: 'xml', HUB_PG_LOG_MAX_BYTES: '12' });
    expect(p).toHaveLength(4);
    expect(p.find((l) => l.startsWith('LOG_FORMAT'))).toBe('LOG_FORMAT="xml": expected one of json, pretty (default json)');
    expect(p.find((l) => l.startsWith('HUB_MAX_CONNECTIONS='))).toMatch(/^HUB_MAX_CONNECTIONS="lots": expected a whole number/);
    expect(loadConfig({}, '/srv').limits).toMatchObject({ maxConnections: 4096, maxConnectionsPerClient: 256, headersTimeoutMs: 20_000, logFormat: undefined });
  });
  it('names every bad value in one pass, one line each with what is accepted', () => {
    const p = problems({ MODULES_AUTO_RELOAD: 'ture', LOG_LEVEL: 'verbose', HUB_PORT: 'eighty', HUB_ISOLATION: 'jail', HUB_IPC_MAX_BYTES: '10' });
    expect(p).toHaveLength(5);
    expect(p[0]).toBe('HUB_PORT="eighty": expected a whole number from 0 to 65535 (default 8000)');
    expect(p.find((l) => l.startsWith('MODULES_AUTO_RELOAD'))).toBe('MODULES_AUTO_RELOAD="ture": expected one of true, false, 1, 0, yes, no, on, off (default false)');
    expect(p.find((l) => l.startsWith('LOG_LEVEL'))).toBe('LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent (default info)');
    expect(p.find((l) => l.startsWith('HUB_ISOLATION'))).toMatch(/expected one of auto, uid, process/);
    expect(p.find((l) => l.startsWith('HUB_IPC_MAX_BYTES'))).toMatch(/from 4096/);
    for (const l of p) expect(l).not.toContain('\n');
  });
  it('refuses a HUB_ADMIN_TOKEN short enough to guess (the k8s example\'s CHANGE-ME), without quoting it', () => {
    for (const token of ['CHANGE-ME', 'Q9', 'q0123456789abcd']) {
      const p = problems({ HUB_ADMIN_TOKEN: token });
      expect(p).toEqual([`HUB_ADMIN_TOKEN is ${token.length} characters, short enough to guess: use at least 16 random characters (openssl rand -hex 32), or unset it and the kernel makes one in HUB_DATA_DIR/admin-token`]);
      expect(p[0]).not.toContain(token);
    }
    expect(loadConfig({ HUB_ADMIN_TOKEN: ' 0123456789abcdef\n' }, '/srv').adminToken).toBe('0123456789abcdef');
    expect(loadConfig({ HUB_ADMIN_TOKEN: '  ' }, '/srv').adminToken).toBeUndefined();
  });
  it('accepts every boolean spelling, any case', () => {
    expect(loadConfig({ MODULES_AUTO_RELOAD: 'Yes', HUB_DATABASE: 'OFF' }, '/').autoReload).toBe(true);
  });
});

describe('checkModuleVariables', () => {
  it('names a variable for a module that does not exist, and a bad runtime boolean', () => {
    const p = checkModuleVariables({ MODULES__NOTE__X: '1', MODULES__NOTES__READ_ONLY: 'flase', MODULES__NOTES__API_KEY: 'k', PATH: '/bin' }, ['notes', 'invoice_parser']);
    expect(p).toEqual([
      'MODULES__NOTE__X: no module "note" in the modules folder; module names here: NOTES, INVOICE_PARSER',
      'MODULES__NOTES__READ_ONLY="flase": expected one of true, false, 1, 0, yes, no, on, off',
    ]);
  });
});
