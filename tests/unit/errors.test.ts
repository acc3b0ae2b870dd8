// The error catalogue (shared/errors.ts): the README's table lists exactly its codes with
// their statuses, and no code in it is dead (every one is thrown somewhere).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, HubError, ModuleError } from '../../shared/errors.js';
import { HUB_ROOT } from '../../shared/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? (d.name === 'node_modules' ? [] : sources(join(dir, d.name))) : d.name.endsWith('.ts') ? [readFileSync(join(dir, d.name), 'utf8')] : [],
  );
}

describe('error catalogue', () => {
  it('equals the README table, code for code and status for status', () => {
    const readme = readFileSync(join(HUB_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('\n## ', readme.indexOf('## Error codes') + 5));
    const rows = Object.fromEntries([...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(rows).toEqual({ ...ERROR_CODES });
  });
  it('has no code that nothing raises', () => {
    const text = ['kernel', 'shared', 'cli'].flatMap((d) => sources(join(HUB_ROOT, d))).join('\n').replace(/export const ERROR_CODES = \{[\s\S]*?\} as const;/, '');
    const dead = Object.keys(ERROR_CODES).filter((c) => !text.includes(`'${c}'`));
    expect(dead).toEqual([]);
  });
  it('writes one shape, details included', () => {
    expect(new HubError('dependency_in_use', 'x', { dependents: ['a'] }).toJSON()).toEqual({ error: 'dependency_in_use', message: 'x', details: { dependents: ['a'] } });
    expect(new ModuleError(409, 'duplicate', 'y', { id: 1 }).toJSON()).toEqual({ error: 'duplicate', message: 'y', details: { id: 1 } });
    const bad = new ModuleError(200, 'Not A Code', 'z');
    expect([bad.status, bad.code]).toEqual([500, 'internal_error']);
  });
});
