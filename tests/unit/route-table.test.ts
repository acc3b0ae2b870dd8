// Route table (kernel/route-table.ts): longest whole-segment prefix wins.
import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../kernel/route-table.js';

describe('RouteTable', () => {
  const t = new RouteTable<string>();
  t.set('/api/v1/notes', 'notes');
  t.set('/api/v1/notes/admin', 'admin');
  t.set('/notes', 'notes-ui');
  it('matches whole segments only, longest first, ignoring the query', () => {
    expect(t.match('/api/v1/notes')).toBe('notes');
    expect(t.match('/api/v1/notes/1?x=/api/v1/notes/admin')).toBe('notes');
    expect(t.match('/api/v1/notes/admin/x')).toBe('admin');
    expect(t.match('/api/v1/notesx')).toBeUndefined();
    expect(t.match('/notes/')).toBe('notes-ui');
  });
  it('forgets deleted prefixes', () => {
    t.delete('/api/v1/notes/admin');
    expect(t.match('/api/v1/notes/admin/x')).toBe('notes');
  });
  it('release drops only the prefixes of that target, never one another target holds', () => {
    const r = new RouteTable<string>();
    r.set('/api/v1/a', 'a');
    r.set('/a', 'a');
    r.set('/api/v1/b', 'b');
    r.release('a');
    expect(r.match('/api/v1/a/x')).toBeUndefined();
    expect(r.match('/a')).toBeUndefined();
    expect(r.owner('/api/v1/b')).toBe('b');
  });
});
