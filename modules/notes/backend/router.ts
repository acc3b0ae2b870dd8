// Notes API: list and search (GET), write (POST/PATCH/DELETE, behind READ_ONLY/DRY_RUN).
import type { ModuleContext, Request, Response, Router } from '../../../shared/module-api.js';

interface Note {
  id: number;
  title: string;
  body: string;
  created_at: string;
  updated_at: string;
  author_id: number | null;
  private: boolean;
}

// Private notes are hidden by the table's row-level security policy (migrations/002), not here.
const COLUMNS = 'id, title, body, created_at, updated_at, author_id::integer AS author_id, private';

function parseNote(req: Request, res: Response, partial: boolean): { title?: string; body?: string; private?: boolean } | null {
  const { title, body, private: priv } = (req.body ?? {}) as Record<string, unknown>;
  const bad = (message: string) => (res.status(400).json({ error: 'bad_request', message }), null);
  if (title !== undefined && (typeof title !== 'string' || title.trim() === '' || title.length > 200)) return bad('title must be 1-200 characters');
  if (body !== undefined && (typeof body !== 'string' || body.length > 20_000)) return bad('body must be text of at most 20000 characters');
  if (priv !== undefined && typeof priv !== 'boolean') return bad('private must be true or false');
  if (!partial && title === undefined) return bad('title is required');
  return { title: (title as string | undefined)?.trim(), body: body as string | undefined, private: priv as boolean | undefined };
}

const noteBody = {
  content: {
    'application/json': {
      schema: { type: 'object', required: ['title'], properties: { title: { type: 'string', maxLength: 200 }, body: { type: 'string' }, private: { type: 'boolean', description: 'only the author can read it' } } },
    },
  },
};

function describe(ctx: ModuleContext): void {
  ctx.docs('get', '/notes', {
    summary: 'List or search notes',
    parameters: [
      { name: 'q', in: 'query', description: 'text to look for in title and body', schema: { type: 'string' } },
      { name: 'limit', in: 'query', schema: { type: 'integer', default: 50, maximum: 500 } },
    ],
  });
  ctx.docs('get', '/notes/:id', { summary: 'One note', responses: { '200': { description: 'the note' }, '404': { description: 'no such note' } } });
  ctx.docs('post', '/notes', { summary: 'Create a note (blocked while READ_ONLY or DRY_RUN is on)', requestBody: noteBody });
  ctx.docs('patch', '/notes/:id', { summary: 'Change a note’s title or body', requestBody: noteBody });
  ctx.docs('delete', '/notes/:id', { summary: 'Delete a note' });
}

export default function routes(router: Router, ctx: ModuleContext): void {
  describe(ctx);
  router.get('/notes', ctx.auth.require('read'), async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.trim() : '';
    const limit = Math.min(Number(req.query.limit) || 50, 500);
    const rows = q
      ? await ctx.db.query<Note>(`SELECT ${COLUMNS} FROM notes_notes WHERE title ILIKE $1 OR body ILIKE $1 ORDER BY updated_at DESC LIMIT $2`, [`%${q}%`, limit])
      : await ctx.db.query<Note>(`SELECT ${COLUMNS} FROM notes_notes ORDER BY updated_at DESC LIMIT $1`, [limit]);
    res.json(rows);
  });

  router.get('/notes/:id', ctx.auth.require('read'), async (req, res) => {
    const note = await ctx.db.one<Note>(`SELECT ${COLUMNS} FROM notes_notes WHERE id = $1`, [Number(req.params.id)]);
    if (!note) return void res.status(404).json({ error: 'not_found', message: `no note ${req.params.id}` });
    res.json(note);
  });

  router.post('/notes', ctx.auth.require('write'), async (req, res) => {
    const note = parseNote(req, res, false);
    if (!note || !ctx.safety.allowWrite(res, `create note "${note.title}"`)) return;
    const id = await ctx.db.insert('INSERT INTO notes_notes (title, body, author_id, private) VALUES ($1, $2, $3, $4)', [
      note.title, note.body ?? '', req.user?.id ?? null, note.private === true,
    ]);
    ctx.log.info({ id }, `📝 Created note ${id}`);
    res.status(201).json({ success: true, id });
  });

  router.patch('/notes/:id', ctx.auth.require('write'), async (req, res) => {
    const note = parseNote(req, res, true);
    if (!note || !ctx.safety.allowWrite(res, `update note ${req.params.id}`)) return;
    const rows = await ctx.db.query(
      'UPDATE notes_notes SET title = COALESCE($1, title), body = COALESCE($2, body), private = COALESCE($4, private), updated_at = now() WHERE id = $3 RETURNING id',
      [note.title ?? null, note.body ?? null, Number(req.params.id), note.private ?? null],
    );
    if (rows.length === 0) return void res.status(404).json({ error: 'not_found', message: `no note ${req.params.id}` });
    res.json({ success: true, id: Number(req.params.id) });
  });

  router.delete('/notes/:id', ctx.auth.require('write'), async (req, res) => {
    if (!ctx.safety.allowWrite(res, `delete note ${req.params.id}`)) return;
    const rows = await ctx.db.query('DELETE FROM notes_notes WHERE id = $1 RETURNING id', [Number(req.params.id)]);
    if (rows.length === 0) return void res.status(404).json({ error: 'not_found', message: `no note ${req.params.id}` });
    res.json({ success: true });
  });
}
