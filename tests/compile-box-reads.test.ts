// The compile box (issue 11, item 4) beyond imports: esbuild reads files on its own, not
// through the resolver the box guards. A `//# sourceMappingURL=` comment makes it read the
// named file as a source map (and quote its first word in the error), a map's `sources`
// without `sourcesContent` make it read those files and inline them in the module's bundle,
// which the module's child can read; a tsconfig.json `extends` makes it read that file (and
// quote it). Red team: each of these read a kernel file as the kernel's user. The right value:
// no byte of a file outside the module reaches the bundle, the record or the kernel's log.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

// starts with an identifier, as a base64url token often does: esbuild quotes the whole word
const SECRET = 'kernelsecret_Zq9x8w7v6u5t4s3r2q1p';
let k: RunningKernel;
let secretPath: string;
let tokenPath: string;

// answers with the inline source map of its own bundle, as any module can read its build
const readsOwnBundle = `import { readFileSync } from 'node:fs';
export default (router) => {
  router.get('/map', (req, res) => {
    const text = readFileSync(new URL(import.meta.url), 'utf8');
    const m = /sourceMappingURL=data:application\\/json;base64,([A-Za-z0-9+/=]+)/.exec(text);
    res.type('text/plain').send(m ? Buffer.from(m[1], 'base64').toString('utf8') : 'no map');
  });
};`;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  const dataDir = tempDir('data');
  secretPath = join(dataDir, 'secret.txt');
  tokenPath = join(dataDir, 'admin-token');
  writeFileSync(secretPath, `${SECRET}\n`, { mode: 0o600 });
  writeModule(modulesDir, 'mapcomment', { router: `${readsOwnBundle}\n//# sourceMappingURL=${secretPath}\n` });
  writeModule(modulesDir, 'mapsources', {
    router: `${readsOwnBundle}\n//# sourceMappingURL=leak.map\n`,
    files: { 'backend/leak.map': JSON.stringify({ version: 3, sources: [secretPath, tokenPath], mappings: 'AAAA;AACA' }) },
  });
  writeModule(modulesDir, 'tsextends', {
    router: readsOwnBundle,
    files: { 'tsconfig.json': JSON.stringify({ extends: secretPath }) },
  });
  k = await startKernel({ modulesDir, dataDir });
});

afterAll(stopAllKernels);

describe('esbuild reading files outside the module on its own', () => {
  it('a sourceMappingURL comment naming a kernel file: no byte of it in the record, the log or the bundle', async () => {
    const rec = await k.waitForState('mapcomment', 'running');
    expect(JSON.stringify(rec)).not.toContain(SECRET.slice(0, 12));
    const map = await (await k.get('/api/v1/mapcomment/map')).text();
    expect(map).toContain('backend/router.js'); // the module's own code still maps
    expect(map).not.toContain(SECRET.slice(0, 12));
    expect(k.lines.join('\n')).not.toContain(SECRET.slice(0, 12));
  });

  it("a module's source map whose sources name kernel files: neither file is inlined in the bundle", async () => {
    await k.waitForState('mapsources', 'running');
    const token = readFileSync(tokenPath, 'utf8').trim();
    const map = await (await k.get('/api/v1/mapsources/map')).text();
    expect(map).not.toContain(SECRET.slice(0, 12));
    expect(map).not.toContain(token.slice(0, 12));
    expect(map).not.toContain('secret.txt');
  });

  it('a tsconfig.json extending a kernel file: the file is neither read into the record nor the log', async () => {
    const rec = await k.record('tsextends');
    expect(JSON.stringify(rec)).not.toContain(SECRET.slice(0, 12));
    expect(k.lines.join('\n')).not.toContain(SECRET.slice(0, 12));
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/tsconfig\.json.*extends/);
  });
});
