// This module's own tests: `hubctl test template_module` runs them against a throwaway database,
// with the module running in a real kernel behind the real gateway (see README "Testing a module").
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModule, type RunningModule, type SignedInUser } from 'bmc-hub/testing';

let m: RunningModule;
let editor: SignedInUser;
let viewer: SignedInUser;

beforeAll(async () => {
  // this test's module is the folder above tests/; writes on (the hub's default is READ_ONLY and DRY_RUN)
  m = await startModule(fileURLToPath(new URL('..', import.meta.url)), { safety: { allowWrites: true } });
  [editor, viewer] = await Promise.all([m.signIn({ grants: ['template_module.editor'] }), m.signIn({ grants: ['template_module.viewer'] })]);
});
afterAll(() => m?.stop());

const post = (user: SignedInUser, body: unknown) =>
  m.api('/items', { method: 'POST', headers: { ...user.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('template_module', () => {
  it('an editor creates an item; it is listed and in the table', async () => {
    const res = await post(editor, { name: 'first' });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    expect(await (await m.api('/items', { headers: viewer.headers })).json()).toMatchObject([{ id, name: 'first' }]);
    expect(await m.db.one('SELECT name FROM template_items WHERE id = $1', [id])).toEqual({ name: 'first' });
  });

  it('a viewer may read but not write; a user without a grant is refused', async () => {
    expect((await post(viewer, { name: 'nope' })).status).toBe(403);
    const nobody = await m.signIn();
    expect((await m.api('/items', { headers: nobody.headers })).status).toBe(403);
  });

  it('a bad name is a 400', async () => {
    expect((await post(editor, { name: '' })).status).toBe(400);
  });
});
