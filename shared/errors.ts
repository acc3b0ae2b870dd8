// One catalogue of every error the hub reports, shared by kernel, children and CLI.
// An error is a value with a code; its HTTP status is looked up here and nowhere else,
// and every HTTP answer for it has the same JSON shape: {"error": code, "message": text}.

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
  start_timeout: 500,
  crash_loop: 500,
  // database and migrations
  database_unavailable: 503,
  migration_failed: 500,
  migration_checksum: 409,
  migration_prefix: 422,
  migration_missing_down: 422,
  migration_locked: 409,
  migration_order: 409,
  migration_adopt: 409,
  // module code
  read_only: 403,
  task_failed: 500,
  task_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: ErrorCode;
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
