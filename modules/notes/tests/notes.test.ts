// The notes module's own behaviour, through the real gateway (run by `hubctl test notes`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModule, type RunningModule, type SignedInUser } from 'bmc-hub/testing';

let m: RunningModule;
let editor: SignedInUser;
let viewer: SignedInUser;

beforeAll(async () => {
  m = await startModule('notes', { safety: { allowWrites: true } });
  [editor, viewer] = await Promise.all([m.signIn({ grants: ['notes.editor'] }), m.signIn({ grants: ['notes.viewer'] })]);
});
afterAll(() => m?.stop());

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('notes', () => {
  it('an editor creates, finds and deletes a note; the row is in notes_notes meanwhile', async () => {
    const created = await m.api('/notes', { ...json({ title: 'Router in room 4', body: 'old one to stock' }), headers: { ...editor.headers, 'content-type': 'application/json' } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };

    const row = await m.db.one<{ title: string; author_id: number }>('SELECT title, author_id::integer AS author_id FROM notes_notes WHERE id = $1', [id]);
    expect(row).toEqual({ title: 'Router in room 4', author_id: editor.id });

    const found = (await (await m.api('/notes?q=room%204', { headers: editor.headers })).json()) as { id: number }[];
    expect(found.map((n) => n.id)).toContain(id);

    expect((await m.api(`/notes/${id}`, { method: 'DELETE', headers: editor.headers })).status).toBe(200);
    expect(await m.db.one('SELECT id FROM notes_notes WHERE id = $1', [id])).toBeNull();
  });

  it('a viewer reads but may not write; no grant and no sign-in are refused', async () => {
    expect((await m.api('/notes', { headers: viewer.headers })).status).toBe(200);
    const write = await m.api('/notes', { ...json({ title: 'x' }), headers: { ...viewer.headers, 'content-type': 'application/json' } });
    expect(write.status).toBe(403);
    const nobody = await m.signIn({ grants: [] });
    expect((await m.api('/notes', { headers: nobody.headers })).status).toBe(403);
    expect((await m.api('/notes')).status).toBe(401);
  });

  it('a private note is hidden from others by row-level security, in the gateway and in the database', async () => {
    const res = await m.api('/notes', { ...json({ title: 'my own', private: true }), headers: { ...editor.headers, 'content-type': 'application/json' } });
    const { id } = (await res.json()) as { id: number };
    expect((await m.api(`/notes/${id}`, { headers: editor.headers })).status).toBe(200);
    expect((await m.api(`/notes/${id}`, { headers: viewer.headers })).status).toBe(404);
    expect(await m.db.one('SELECT id FROM notes_notes WHERE id = $1', [id])).toBeNull();
    expect(await m.db.asUser(viewer.id).one('SELECT id FROM notes_notes WHERE id = $1', [id])).toBeNull();
    expect(await m.db.asUser(editor.id).one('SELECT id FROM notes_notes WHERE id = $1', [id])).toEqual({ id });
  });

  it('a bad body is a 400 naming the field', async () => {
    const res = await m.api('/notes', { ...json({ title: '' }), headers: { ...editor.headers, 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/title/);
  });
});
