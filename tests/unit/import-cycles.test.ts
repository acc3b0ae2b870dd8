// No import cycle among the kernel's files (issue 13): a small walk over the import graph of
// kernel/, shared/ and cli/, type-only imports included (they tie files together just as much).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../../shared/paths.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

function graph(roots: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of roots.flatMap((r) => files(join(HUB_ROOT, r)))) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) => resolve(dirname(f), m[1]!.replace(/\.js$/, '.ts')));
    g.set(relative(HUB_ROOT, f), deps.map((d) => relative(HUB_ROOT, d)));
  }
  return g;
}

/** Every cycle found by a depth-first walk, each as the chain of files. */
export function cycles(g: Map<string, string[]>): string[][] {
  const out: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'open') {
      out.push([...stack.slice(stack.indexOf(n)), n]);
      return;
    }
    state.set(n, 'open');
    stack.push(n);
    for (const d of g.get(n) ?? []) visit(d);
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of g.keys()) visit(n);
  return out;
}

describe('import graph', () => {
  it('has no cycle in kernel/, shared/ or cli/', () => {
    const found = cycles(graph(['kernel', 'shared', 'cli']));
    expect(found.map((c) => c.join(' → '))).toEqual([]);
  });
  it('finds a cycle when there is one (the check works)', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['a']]]))).toEqual([['a', 'b', 'a']]);
  });
});
