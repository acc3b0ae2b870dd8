// Body sizes in module.json (body_limit): parsing and the default. Kept apart from the
// manifest schema so a module child can read its limit without loading zod and semver.

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i;

/**
 * A size such as "5mb", "512kb", "100b" or a number of bytes, in bytes (units are powers of
 * 1024, as express's body parsers read them). Null when it is not a size.
 */
export function parseSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  const m = SIZE_RE.exec(value.trim());
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** DESIGN.md: body_limit defaults to "1mb". */
export const DEFAULT_BODY_LIMIT = '1mb';

/** The module's body_limit in bytes (DESIGN.md "module.json"; default 1 MiB). */
export function bodyLimitBytes(manifest: { body_limit?: string | number }): number {
  return parseSize(manifest.body_limit ?? DEFAULT_BODY_LIMIT) ?? 1024 * 1024;
}

