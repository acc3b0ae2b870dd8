// The module's pages, mounted at /<name>. Templates live in templates/ and use EJS;
// ctx.page renders one inside the hub's layout (header, navigation, signed-in user, stylesheet).
import type { ModuleContext, Router } from '../../../shared/module-api.js';

export default function views(router: Router, ctx: ModuleContext): void {
  router.get('/', ctx.auth.require('read'), async (_req, res) => {
    const items = await ctx.db.query('SELECT id, name, created_at FROM template_items ORDER BY id DESC LIMIT 100');
    await ctx.page(res, 'index', { module: ctx.manifest, items, safety: ctx.safety });
  });
}
