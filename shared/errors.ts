// One catalogue of every error the hub reports, shared by kernel, children and CLI.
// An error is a value with a code; its HTTP status is looked up here and nowhere else,
// and every HTTP answer for it has the same JSON shape:
// {"error": code, "message": text, "details"?: {...}} — from a child through the kernel to
// the client, details included. A module's own API errors (ctx.error → ModuleError) carry
// the module's own code and status in the same shape. README "Error codes" lists this
// catalogue; tests/unit/errors.test.ts keeps the two equal.

export const ERROR_CODES = {
  // requests and routing
  not_found: 404,
  bad_request: 400,
  module_not_found: 404,
  module_not_running: 503,
  module_unreachable: 502,
  payload_too_large: 413,
  internal_error: 500,
  // admin API
  unauthorized: 401,
  /** Nobody is signed in (no session, no token) and the route needs someone. */
  unauthenticated: 401,
  /** Too many attempts (sign-in), try again after Retry-After seconds. */
  rate_limited: 429,
  forbidden: 403,
  /** The request named a Host this hub does not answer to (DNS rebinding guard). */
  misdirected_request: 421,
  invalid_name: 400,
  conflict: 409,
  dependency_in_use: 409,
  // manifests and the registry
  manifest_invalid: 422,
  manifest_missing: 422,
  dependency_missing: 422,
  dependency_version: 422,
  dependency_cycle: 422,
  hub_version_mismatch: 422,
  // processes
  start_failed: 500,
  // database and migrations
  database_unavailable: 503,
  data_dir_in_use: 409,
  migration_failed: 500,
  migration_checksum: 409,
  migration_prefix: 422,
  migration_missing_down: 422,
  migration_locked: 409,
  migration_order: 409,
  migration_adopt: 409,
  /** HUB_REQUIRE_TESTED: the module's current content has no passing `hubctl test` run. */
  module_untested: 409,
  // module code
  task_failed: 500,
  task_timeout: 504,
  module_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  /** A catalogue code, or a module's own (ModuleError). */
  error: ErrorCode | string;
  message: string;
  details?: Record<string, unknown>;
}

export class HubError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'HubError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }

  toJSON(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

/** A module's own API error codes: lower snake case, like the catalogue's. */
export const MODULE_ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * An error a module defines for its own API (`throw ctx.error(409, 'duplicate', '…', { id })`):
 * its own code and HTTP status (400–599), answered in the one shape by the module runtime.
 * A bad code or status is a bug in the module and becomes internal_error.
 */
export class ModuleError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ModuleError';
    const ok = Number.isInteger(status) && status >= 400 && status <= 599 && MODULE_ERROR_CODE.test(code);
    this.status = ok ? status : 500;
    this.code = ok ? code : 'internal_error';
    this.details = details;
  }

  toJSON(): ErrorBody {
    return this.details === undefined ? { error: this.code, message: this.message } : { error: this.code, message: this.message, details: this.details };
  }
}

export function isHubError(e: unknown): e is HubError {
  return e instanceof HubError;
}

/** Any thrown value as a HubError; unknown errors become internal_error with their message. */
export function toHubError(e: unknown, fallback: ErrorCode = 'internal_error'): HubError {
  if (e instanceof HubError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new HubError(fallback, message);
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code];
}
