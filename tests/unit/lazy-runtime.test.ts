// Issue 17: a child loads pg and ejs only when its module first uses them, behind the same
// ctx API (DESIGN.md "ctx"). These check the lazy halves in process: nothing is loaded by
// creating them, the first use loads and works (or fails as the eager version failed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dbLoaded, lazyModuleDb } from '../../shared/runtime/lazy-db.js';
import { lazyViewEngine, renderTemplate, templatesLoaded } from '../../shared/runtime/templates.js';

const dir = mkdtempSync(join(tmpdir(), 'lazy-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lazy ctx.db', () => {
  it('creates no pool until the first query, then queries through pg', async () => {
    const u = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    const db = lazyModuleDb({ host: u.hostname, port: Number(u.port || 5432), database: u.pathname.slice(1), user: decodeURIComponent(u.username), ...(u.password ? { password: decodeURIComponent(u.password) } : {}) }, { max: 1 });
    expect(dbLoaded(db)).toBe(false);
    await db.close(); // closing a pool never created is fine and loads nothing
    expect(dbLoaded(db)).toBe(false);
    expect(await db.one<{ n: number }>('SELECT 1 + 1 AS n')).toEqual({ n: 2 });
    expect(dbLoaded(db)).toBe(true);
    expect(await db.transaction(async (tx) => tx.query<{ v: string }>("SELECT 'x' AS v"))).toEqual([{ v: 'x' }]);
    await db.close();
  });

  it('reports a connection failure on the call that needed the pool', async () => {
    const db = lazyModuleDb({ host: '127.0.0.1', port: 1, database: 'x', user: 'x' });
    await expect(db.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED|connect/);
    await db.close();
  });
});

describe('lazy templates', () => {
  it('loads ejs with the first render, for ctx.render and for express views', async () => {
    expect(templatesLoaded()).toBe(false);
    const file = join(dir, 'hello.ejs');
    writeFileSync(file, '<p><%= name %></p>');
    expect(await renderTemplate(file, { name: '<b>' })).toBe('<p>&lt;b&gt;</p>');
    expect(templatesLoaded()).toBe(true);
    const html = await new Promise<string | undefined>((resolve, reject) => lazyViewEngine(file, { name: 'view' }, (err, out) => (err ? reject(err) : resolve(out))));
    expect(html).toBe('<p>view</p>');
  });

  it('passes a template error to the express callback', async () => {
    const file = join(dir, 'broken.ejs');
    writeFileSync(file, '<% if (x) { %>');
    await expect(new Promise((resolve, reject) => lazyViewEngine(file, {}, (err, out) => (err ? reject(err) : resolve(out))))).rejects.toBeTruthy();
  });
});
