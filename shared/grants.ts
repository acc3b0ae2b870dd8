// Grants and what they give (DESIGN.md "Identity and permissions"). A grant is
// `<module>.<role>`, `<module>.<perm>` or `hub.admin`; a module's manifest declares its
// permissions and its roles (sets of permissions). Pure functions, used by the kernel's
// gateway and admin API.
import { MODULE_NAME_RE } from './names.js';

/** `hub.admin` holds every module's permissions and the admin API. */
export const HUB_ADMIN = 'hub.admin';
/** A permission or role name: `^[a-z][a-z0-9_]*$`, at most 40 characters. */
export const PERM_RE = /^[a-z][a-z0-9_]{0,39}$/;

/** The parts of a grant, or null when it is not `<module>.<name>` / `hub.admin`. */
export function parseGrant(grant: string): { module: string; name: string } | null {
  if (grant === HUB_ADMIN) return { module: 'hub', name: 'admin' };
  const dot = grant.indexOf('.');
  if (dot === -1) return null;
  const module = grant.slice(0, dot);
  const name = grant.slice(dot + 1);
  if (!MODULE_NAME_RE.test(module) || !PERM_RE.test(name)) return null;
  return { module, name };
}

/** What a module declares: its permission names and its roles (role → permission names). */
export interface ModulePermissions {
  permissions: Record<string, string>;
  roles: Record<string, string[]>;
}

/**
 * The permissions of `module` that `grants` give, sorted. `hub.admin` gives all of them; a
 * role gives its permissions; a permission grant gives itself when the module declares it.
 * Grants of other modules give nothing here.
 */
export function modulePermissions(grants: readonly string[], module: string, declared: ModulePermissions): string[] {
  const all = Object.keys(declared.permissions);
  const out = new Set<string>();
  for (const g of grants) {
    if (g === HUB_ADMIN) return all.sort();
    const p = parseGrant(g);
    if (!p || p.module !== module) continue;
    const role = Object.hasOwn(declared.roles, p.name) ? declared.roles[p.name] : undefined;
    if (role) for (const perm of role) out.add(perm);
    else if (Object.hasOwn(declared.permissions, p.name)) out.add(p.name);
  }
  return [...out].sort();
}
