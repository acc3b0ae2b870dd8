// cli/db-shell.ts: the `role` startup option in a connection string, and psql's arguments.
import { describe, expect, it } from 'vitest';
import { parsePsqlArgs, withRole } from '../../cli/db-shell.js';

describe('withRole', () => {
  it('adds options=-c role=… percent-encoded (libpq does not read + as a space), keeping other parameters', () => {
    expect(withRole('postgres://postgres:p%40ss@127.0.0.1:5432/hub', 'h1234abcd_notes_rt_abc123'))
      .toBe('postgres://postgres:p%40ss@127.0.0.1:5432/hub?options=-c%20role%3Dh1234abcd_notes_rt_abc123');
    expect(withRole('postgres://u@db.example.com/hub?sslmode=require&options=-c%20search_path%3Dpublic', 'r'))
      .toBe('postgres://u@db.example.com/hub?sslmode=require&options=-c%20search_path%3Dpublic%20-c%20role%3Dr');
  });
});

describe('parsePsqlArgs', () => {
  it('takes --admin and a module name first; the rest is psql\'s', () => {
    expect(parsePsqlArgs(['notes', '-c', '\\d notes_notes'])).toEqual({ module: 'notes', admin: false, rest: ['-c', '\\d notes_notes'] });
    expect(parsePsqlArgs(['--admin', '-At', '-c', 'select 1'])).toEqual({ module: undefined, admin: true, rest: ['-At', '-c', 'select 1'] });
    expect(parsePsqlArgs(['notes', '--admin', '-x'])).toEqual({ module: 'notes', admin: true, rest: ['-x'] });
    expect(parsePsqlArgs([])).toEqual({ module: undefined, admin: false, rest: [] });
  });
});
