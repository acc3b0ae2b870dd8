// Registry rules (kernel/registry-rules.ts): dependency closure, cycles, versions, prefixes.
import { describe, expect, it } from 'vitest';
import { applyCrossModuleRules, dependencyClosure } from '../../kernel/registry-rules.js';
import type { ModuleEntry } from '../../kernel/registry.js';
import { HubError } from '../../shared/errors.js';

function entry(name: string, extra: Record<string, unknown> = {}): ModuleEntry {
  const manifest = { name, version: '1.0.0', description: '', enabled: true, table_prefix: `${name}_`, api_prefix: `/api/v1/${name}`, tags: [], dependencies: [], ...extra };
  return { name, dir: `/m/${name}`, manifest, warnings: [], error: null } as unknown as ModuleEntry;
}

describe('dependency closure', () => {
  it('lists what a module needs, leaves first, each once (a diamond)', () => {
    const es = [entry('base'), entry('left', { dependencies: ['base'] }), entry('right', { dependencies: ['base'] }), entry('top', { dependencies: ['left', 'right@^1.0.0'] })];
    expect(dependencyClosure(es, 'top')).toEqual(['base', 'left', 'right']);
    expect(dependencyClosure(es, 'base')).toEqual([]);
  });
});

describe('cross-module rules', () => {
  it('keeps a cycle out naming the whole chain, and a version mismatch naming both versions', () => {
    const out = applyCrossModuleRules([entry('a', { dependencies: ['b'] }), entry('b', { dependencies: ['a'] }), entry('c', { dependencies: ['a@>=2.0.0'] })], '0.1.0');
    const by = new Map(out.map((e) => [e.name, e]));
    expect(by.get('a')!.error?.message).toMatch(/cycle a → b → a/);
    expect(by.get('c')!.error?.code).toBeTruthy();
  });
  it('refuses a second module on a taken api_prefix', () => {
    const out = applyCrossModuleRules([entry('one'), entry('two', { api_prefix: '/api/v1/one' })], '0.1.0');
    expect(out.filter((e) => e.error).map((e) => e.name)).toEqual(['two']);
  });
});

describe('prefixes held while the hub runs', () => {
  const held = new Map([
    ['notes2', { api_prefix: '/api/v1/notes2', table_prefix: 'notes2_' }],
    ['lure', { api_prefix: '/api/v1/lure', table_prefix: 'lure_' }],
  ]);
  it('refuses the edited module, not the holder, whatever the names sort to (equal or nested prefix)', () => {
    for (const claim of ['/api/v1/notes2', '/api/v1/notes2/open']) {
      const out = applyCrossModuleRules([entry('lure', { api_prefix: claim }), entry('notes2')], '0.1.0', held);
      const by = new Map(out.map((e) => [e.name, e]));
      expect(by.get('notes2')!.error).toBeNull();
      expect(by.get('lure')!.error?.message).toMatch(/modules\/lure\/module\.json: field "api_prefix".*module notes2 holds/);
    }
  });
  it('refuses a newcomer on a held table_prefix; a holder that moves away lets go', () => {
    const out = applyCrossModuleRules([entry('aaa', { table_prefix: 'notes2_' }), entry('lure'), entry('notes2')], '0.1.0', held);
    expect(out.find((e) => e.name === 'aaa')!.error?.message).toMatch(/table_prefix.*module notes2 holds/);
    const moved = applyCrossModuleRules([entry('aaa', { api_prefix: '/api/v1/notes2' }), entry('lure'), entry('notes2', { api_prefix: '/api/v1/n2' })], '0.1.0', held);
    expect(moved.filter((e) => e.error)).toEqual([]);
  });
  it('keeps a holding whose module has a broken new manifest (the running version keeps serving)', () => {
    const broken = { ...entry('notes2'), manifest: null, error: new HubError('manifest_invalid', 'bad') } as ModuleEntry;
    const out = applyCrossModuleRules([entry('lure', { api_prefix: '/api/v1/notes2' }), broken], '0.1.0', held);
    expect(out.find((e) => e.name === 'lure')!.error?.message).toMatch(/module notes2 holds/);
  });
  it('at boot (no holdings) keeps the deterministic rule: enabled first, then by name', () => {
    const out = applyCrossModuleRules([entry('lure', { api_prefix: '/api/v1/notes2' }), entry('notes2')], '0.1.0');
    expect(out.filter((e) => e.error).map((e) => e.name)).toEqual(['notes2']);
  });
});
