import { describe, expect, it } from 'vitest';
import { describeDiff, diffCatalog, isEmptyDiff, type PrefixCatalog } from '../../cli/module-test-catalog.js';

const cat = (entries: Record<string, string>): PrefixCatalog => new Map(Object.entries(entries));

describe('catalog diff (hubctl test migrations check)', () => {
  it('is empty for equal catalogs', () => {
    const a = cat({ 'table notes_x': '', 'column notes_x.id': 'integer not null' });
    expect(isEmptyDiff(diffCatalog(a, cat(Object.fromEntries(a))))).toBe(true);
  });

  it('names a leftover table, not its columns, indexes-by-table or constraints', () => {
    const d = diffCatalog(cat({}), cat({
      'table notes_tags': '', 'column notes_tags.id': 'integer', 'constraint notes_tags.notes_tags_pkey': 'PRIMARY KEY (id)', 'index notes_tags_pkey': 'CREATE UNIQUE INDEX ...',
    }));
    expect(d.left[0]).toBe('table notes_tags');
    expect(describeDiff(d)).toBe('left table notes_tags (and 1 more)');
  });

  it('reports removed and changed objects', () => {
    const before = cat({ 'table notes_x': '', 'column notes_x.a': 'integer', 'index notes_x_a': 'CREATE INDEX notes_x_a ON public.notes_x USING btree (a)' });
    const after = cat({ 'table notes_x': '', 'column notes_x.a': 'bigint' });
    const d = diffCatalog(before, after);
    expect(d).toEqual({ left: [], missing: ['index notes_x_a'], changed: ['column notes_x.a'] });
    expect(describeDiff(d)).toBe('removed index notes_x_a; changed column notes_x.a');
  });

  it('keeps a leftover column of a table that itself stayed', () => {
    const d = diffCatalog(cat({ 'table notes_x': '' }), cat({ 'table notes_x': '', 'column notes_x.extra': 'text' }));
    expect(describeDiff(d)).toBe('left column notes_x.extra');
  });
});
