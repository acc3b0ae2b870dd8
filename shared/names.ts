// Module names reach the file system (folder names, log files, build dirs) and SQL
// (role names), so every entry point validates them here before touching either.
import { HubError } from './errors.js';

export const MODULE_NAME_RE = /^[a-z][a-z0-9_]{1,39}$/;

/**
 * Names that would shadow the kernel's own top-level routes (`/<name>` is a module's UI path,
 * routed before the kernel's): a module called `login` would be served the hub's sign-in page
 * path and could collect passwords.
 */
export const RESERVED_NAMES = new Set([
  'api', 'health', 'metrics', 'static', 'assets', 'dashboard', 'docs', 'admin', 'hub', 'kernel', 'modules', 'favicon',
  'login', 'logout', 'users', 'audit', 'auth',
]);

export function isValidModuleName(name: unknown): name is string {
  return typeof name === 'string' && MODULE_NAME_RE.test(name) && !RESERVED_NAMES.has(name);
}

/** Returns the name unchanged or throws `invalid_name` with a message fit for one log line. */
export function assertModuleName(name: unknown): string {
  if (isValidModuleName(name)) return name;
  const shown = JSON.stringify(String(name)).slice(0, 80);
  if (typeof name === 'string' && RESERVED_NAMES.has(name)) {
    throw new HubError('invalid_name', `module name ${shown} is reserved for the kernel's own routes; pick another name`);
  }
  throw new HubError(
    'invalid_name',
    `invalid module name ${shown}: use 2-40 characters, a lowercase letter first, then lowercase letters, digits or _`,
  );
}

/** `my_module` → `MY_MODULE`, the middle part of `MODULES__<NAME>__<KEY>`. */
export function envName(name: string): string {
  return name.toUpperCase();
}
