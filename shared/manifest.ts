// module.json: its schema, its types, and the field-level messages a module author sees.
// Cross-module rules (unique prefixes, dependencies) live in the kernel's registry;
// this file only judges one manifest on its own.
import { z } from 'zod';
import semver from 'semver';
import { parseSize } from './body-limit.js';
import { HubError } from './errors.js';
import { MODULE_NAME_RE, RESERVED_NAMES } from './names.js';

const semverString = z.string().refine((v) => semver.valid(v) !== null, 'must be a semver version such as "1.0.0"');
const semverRange = z.string().refine((v) => semver.validRange(v) !== null, 'must be a semver range such as "^1.2.0"');

/** `"billing"` or `"billing@^1.2.0"`. */
export const DEPENDENCY_RE = /^([a-z][a-z0-9_]{1,39})(?:@(.+))?$/;

const KNOWN_FIELDS = [
  'name', 'version', 'description', 'author', 'enabled', 'dependencies', 'table_prefix', 'api_prefix',
  'tags', 'hub_version', 'max_memory_mb', 'workers', 'remote_url', 'timeout_ms', 'body_limit', 'permissions', 'roles', 'public_routes',
] as const;

// sizes live in ./body-limit.ts, which a module child loads without zod and semver
export { bodyLimitBytes, DEFAULT_BODY_LIMIT, parseSize } from './body-limit.js';

const permName = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'names must match ^[a-z][a-z0-9_]{0,39}$');
/** `"GET /api/v1/x/hook"`, `"* /x/public/*"`: a method (or *) and an absolute path, optionally ending in /*. */
export const PUBLIC_ROUTE_RE = /^(\*|GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/[A-Za-z0-9_\-./~]*?)(\/\*)?$/;

export const manifestSchema = z.looseObject({
  name: z
    .string({ error: 'is required (a string)' })
    .regex(MODULE_NAME_RE, 'must match ^[a-z][a-z0-9_]{1,39}$ (lowercase letter first, then lowercase letters, digits, _)')
    .refine((n) => !RESERVED_NAMES.has(n), 'is reserved for a kernel route; pick another name'),
  version: semverString,
  description: z.string().default(''),
  author: z.string().default(''),
  enabled: z.boolean().default(false),
  dependencies: z
    .array(
      z.string().refine((d) => {
        const m = DEPENDENCY_RE.exec(d);
        return m !== null && (m[2] === undefined || semver.validRange(m[2]) !== null);
      }, 'each entry must be a module name, optionally with a semver range: "billing" or "billing@^1.2.0"'),
    )
    .default([]),
  table_prefix: z
    .string({ error: 'is required (a string such as "mymod_")' })
    .regex(/^[a-z][a-z0-9]*_$/, 'must match ^[a-z][a-z0-9]*_$ (letters and digits, ending in one _), e.g. "mymod_"'),
  api_prefix: z
    .string({ error: 'is required (a path such as "/api/v1/mymod")' })
    .regex(/^\/api\/[a-z0-9_\-/]*[a-z0-9_-]$/, 'must start with /api/, use lowercase letters, digits, -, _ and /, and not end in /')
    .refine((p) => !p.includes('//'), 'must not contain //'),
  tags: z.array(z.string()).default([]),
  hub_version: semverRange.optional(),
  max_memory_mb: z.number().int().min(16, 'must be at least 16').max(65536).optional(),
  workers: z.number().int().min(1).max(64).optional(),
  // DESIGN.md: longest a proxied request may take before 504 module_timeout (default 120000)
  timeout_ms: z.number().int().min(100, 'must be at least 100 (ms)').max(3_600_000, 'must be at most 3600000 (one hour)').optional(),
  // DESIGN.md: largest request body the runtime parses (default "1mb"); larger gets 413
  body_limit: z
    .union([z.string(), z.number()])
    .refine((v) => parseSize(v) !== null, 'must be a size such as "5mb", "512kb" or a number of bytes')
    .refine((v) => (parseSize(v) ?? 0) <= 1024 ** 3, 'must be at most "1gb"')
    .optional(),
  remote_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  // DESIGN.md "module.json" and "Identity and permissions"
  permissions: z.record(permName, z.string().max(200)).default({}),
  roles: z.record(permName, z.array(z.string())).default({}),
  public_routes: z
    .array(z.string().regex(PUBLIC_ROUTE_RE, 'each entry must be "METHOD /path" (METHOD an HTTP method or *; the path may end in /*)'))
    .default([]),
});

export type Manifest = z.output<typeof manifestSchema>;

export interface ParsedManifest {
  manifest: Manifest;
  warnings: string[];
}

export interface Dependency {
  name: string;
  range: string | undefined;
}

export function parseDependency(entry: string): Dependency {
  const m = DEPENDENCY_RE.exec(entry);
  return { name: m?.[1] ?? entry, range: m?.[2] };
}

/**
 * Validates the text of one module.json. `where` names the file in messages
 * (e.g. "modules/notes/module.json"); `folder` is the folder name the `name` must equal.
 */
export function parseManifest(text: string, where: string, folder: string): ParsedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new HubError('manifest_invalid', `${where}: invalid JSON (${(e as Error).message}); fix the syntax`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HubError('manifest_invalid', `${where}: must be a JSON object`);
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.length ? issue.path.join('.') : '(root)';
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new HubError('manifest_invalid', `${where}: field "${field}" ${issue.message}${more}`, {
      field,
      issues: result.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
    });
  }
  const manifest = result.data;
  if (manifest.name !== folder) {
    throw new HubError(
      'manifest_invalid',
      `${where}: field "name" is "${manifest.name}" but the folder is "${folder}"; they must be equal`,
      { field: 'name' },
    );
  }
  checkPermissionFields(manifest, where);
  const warnings = Object.keys(raw)
    .filter((k) => !(KNOWN_FIELDS as readonly string[]).includes(k))
    .map((k) => `${where}: unknown field "${k}" kept but ignored`);
  return { manifest, warnings };
}

/**
 * Cross-field rules for `roles` and `public_routes`: every role lists only declared
 * permissions; every public route lies under the module's api_prefix or /<name> and has no
 * `..` segment. Throws HubError `manifest_invalid` naming the field.
 */
function checkPermissionFields(m: Manifest, where: string): void {
  for (const [role, perms] of Object.entries(m.roles)) {
    const unknown = perms.find((p) => !Object.hasOwn(m.permissions, p));
    if (unknown !== undefined) {
      throw new HubError('manifest_invalid', `${where}: field "roles.${role}" names "${unknown.slice(0, 60)}", which is not in "permissions"`, { field: `roles.${role}` });
    }
  }
  m.public_routes.forEach((r, i) => {
    const path = PUBLIC_ROUTE_RE.exec(r)![2]!;
    const under = (base: string) => path === base || path.startsWith(`${base}/`);
    if (path.split('/').some((seg) => seg === '..' || seg === '.') || !(under(m.api_prefix) || under(`/${m.name}`))) {
      throw new HubError('manifest_invalid', `${where}: field "public_routes.${i}" must lie under "${m.api_prefix}" or "/${m.name}"`, { field: `public_routes.${i}` });
    }
  });
}
