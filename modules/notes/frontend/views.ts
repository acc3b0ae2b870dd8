// The notes page at /notes, inside the hub's layout (ctx.page).
import type { ModuleContext, Router } from '../../../shared/module-api.js';

export default function views(router: Router, ctx: ModuleContext): void {
  router.get('/', ctx.auth.require('read'), async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.trim() : '';
    const notes = await ctx.db.query(
      'SELECT id, title, body, updated_at FROM notes_notes WHERE $1 = \'\' OR title ILIKE $2 OR body ILIKE $2 ORDER BY updated_at DESC LIMIT 100',
      [q, `%${q}%`],
    );
    await ctx.page(res, 'index', { module: ctx.manifest, notes, q, safety: ctx.safety }, { title: 'Notes' });
  });
}
