// The modules the benchmarks run: a minimal express route, and one that can block.
import { tempDir, writeModule } from '../tests/helpers/modules.js';

export const benchRouter = `export default (router) => {
  router.get('/ping', (req, res) => res.json({ ok: true, pid: process.pid }));
  router.get('/block', (req, res) => { res.json({ blocking: true }); setTimeout(() => { for (;;) {} }, 10); });
};`;

export function benchModules(count: number, prefix = 'm'): string {
  const dir = tempDir('bench-modules');
  for (let i = 0; i < count; i++) writeModule(dir, `${prefix}${String(i).padStart(2, '0')}`, { router: benchRouter });
  return dir;
}
