// Registry rules (kernel/registry-rules.ts): dependency closure, cycles, versions, prefixes.
import { describe, expect, it } from 'vitest';
import { applyCrossModuleRules, dependencyClosure } from '../../kernel/registry-rules.js';
import type { ModuleEntry } from '../../kernel/registry.js';

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
