// A broken manifest keeps that one module out with a message that says what to fix;
// every other module starts normally, and the broken one stays visible as failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, manifestFor, tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;

// The clashing modules are disabled, as a freshly dropped-in module is: the enabled module
// that already holds a prefix keeps it.
const cases: Record<string, { manifest?: Record<string, unknown>; manifestText?: string; expect: RegExp }> = {
  bad_json: { manifestText: '{ "name": "bad_json", ', expect: /modules\/bad_json\/module\.json: invalid JSON/ },
  no_version: { manifestText: JSON.stringify({ ...manifestFor('no_version'), version: undefined }), expect: /field "version"/ },
  bad_version: { manifest: { version: 'one' }, expect: /field "version" must be a semver version/ },
  no_prefix: { manifestText: JSON.stringify({ ...manifestFor('no_prefix'), table_prefix: undefined }), expect: /field "table_prefix" is required/ },
  bad_api: { manifest: { api_prefix: '/v1/bad' }, expect: /field "api_prefix" must start with \/api\// },
  wrong_name: { manifest: { name: 'other_name' }, expect: /field "name" is "other_name" but the folder is "wrong_name"/ },
  dup_table: { manifest: { table_prefix: 'good_', enabled: false }, expect: /"table_prefix" "good_" clashes with "good_" of module good/ },
  kernel_table: { manifest: { table_prefix: 'hub_' }, expect: /"table_prefix" "hub_" is the kernel's own/ },
  dup_api: { manifest: { api_prefix: '/api/v1/good', enabled: false }, expect: /overlaps \/api\/v1\/good of module good/ },
  nested_api: { manifest: { api_prefix: '/api/v1/good/sub', enabled: false }, expect: /overlaps \/api\/v1\/good of module good/ },
  kernel_api: { manifest: { api_prefix: '/api/v1/modules/x' }, expect: /overlaps the kernel route \/api\/v1\/modules/ },
  missing_dep: { manifest: { dependencies: ['nothere'] }, expect: /depends on "nothere", which is not installed/ },
  bad_dep: { manifest: { dependencies: ['good@^2.0.0'] }, expect: /needs good@\^2\.0\.0 but good is 1\.0\.0/ },
  bad_memory: { manifest: { max_memory_mb: 'lots' }, expect: /field "max_memory_mb"/ },
};

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'good', { router: helloRouter, manifest: { table_prefix: 'good_' } });
  for (const [name, c] of Object.entries(cases)) {
    writeModule(modulesDir, name, { router: helloRouter, manifest: c.manifest, manifestText: c.manifestText });
  }
  writeModule(modulesDir, 'Bad-Folder', { router: helloRouter });
  writeModule(modulesDir, 'no_manifest', { router: helloRouter, manifestText: '' });
  writeModule(modulesDir, 'extra_field', { router: helloRouter, manifest: { colour: 'blue' } });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

describe('bad manifests', () => {
  it('keeps the good module running', async () => {
    expect((await k.record('good')).state).toBe('running');
    expect((await k.get('/api/v1/good/hello')).status).toBe(200);
  });

  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: failed with a message that says what to fix`, async () => {
      const rec = await k.record(name);
      expect(rec.state).toBe('failed');
      expect(rec.last_error).toMatch(c.expect);
      expect(rec.pid).toBeNull();
      expect(k.lines.some((l) => l.includes(`❌ Could not load module ${name}:`))).toBe(true);
    });
  }

  it('lists a folder with an invalid name under its folder name', async () => {
    const all = await k.json<any[]>('/api/v1/modules');
    const bad = all.find((r) => r.name === 'Bad-Folder');
    expect(bad.state).toBe('failed');
    expect(bad.last_error).toMatch(/not a valid module name/);
  });

  it('treats an empty module.json as invalid JSON', async () => {
    const all = await k.json<any[]>('/api/v1/modules');
    expect(all.find((r) => r.name === 'no_manifest').last_error).toMatch(/invalid JSON/);
  });

  it('keeps unknown fields but warns about them', async () => {
    expect((await k.record('extra_field')).state).toBe('running');
    expect(k.lines.some((l) => l.includes('unknown field \\"colour\\" kept but ignored') || l.includes('unknown field "colour"'))).toBe(true);
  });
});
