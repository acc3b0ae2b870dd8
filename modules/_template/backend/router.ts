// The module's API, mounted at its api_prefix. Every write asks ctx.safety first:
// READ_ONLY and DRY_RUN are on until the operator turns them off. Every route names the
// permission it needs (module.json "permissions"); the hub refuses users with no grant of this
// module before they get here, ctx.auth.require refuses the ones without that permission.
import type { ModuleContext, Request, Response, Router } from '../../../shared/module-api.js';

interface Item {
  id: number;
  name: string;
  created_at: string;
}

function nameFrom(req: Request, res: Response): string | null {
  const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
  if (name.length === 0 || name.length > 255) {
    res.status(400).json({ error: 'bad_request', message: 'name is required (1-255 characters)' });
    return null;
  }
  return name;
}

export default function routes(router: Router, ctx: ModuleContext): void {
  router.get('/items', ctx.auth.require('read'), async (_req, res) => {
    res.json(await ctx.db.query<Item>('SELECT id, name, created_at FROM template_items ORDER BY id'));
  });

  router.get('/items/:id', ctx.auth.require('read'), async (req, res) => {
    const item = await ctx.db.one<Item>('SELECT id, name, created_at FROM template_items WHERE id = $1', [Number(req.params.id)]);
    if (!item) return void res.status(404).json({ error: 'not_found', message: `no item ${req.params.id}` });
    res.json(item);
  });

  router.post('/items', ctx.auth.require('write'), async (req, res) => {
    const name = nameFrom(req, res);
    if (name === null || !ctx.safety.allowWrite(res, `create item "${name}"`)) return;
    const id = await ctx.db.insert('INSERT INTO template_items (name) VALUES ($1)', [name]);
    ctx.log.info({ id }, `✅ Created item ${id}`);
    res.status(201).json({ success: true, id });
  });

  router.put('/items/:id', ctx.auth.require('write'), async (req, res) => {
    const name = nameFrom(req, res);
    if (name === null || !ctx.safety.allowWrite(res, `rename item ${req.params.id}`)) return;
    const rows = await ctx.db.query('UPDATE template_items SET name = $1 WHERE id = $2 RETURNING id', [name, Number(req.params.id)]);
    if (rows.length === 0) return void res.status(404).json({ error: 'not_found', message: `no item ${req.params.id}` });
    res.json({ success: true, id: Number(req.params.id) });
  });

  router.delete('/items/:id', ctx.auth.require('write'), async (req, res) => {
    if (!ctx.safety.allowWrite(res, `delete item ${req.params.id}`)) return;
    const rows = await ctx.db.query('DELETE FROM template_items WHERE id = $1 RETURNING id', [Number(req.params.id)]);
    if (rows.length === 0) return void res.status(404).json({ error: 'not_found', message: `no item ${req.params.id}` });
    res.json({ success: true });
  });
}
