// hubctl's one way to fail: a single line on stderr ("hubctl: what, what to do") and an
// exit code a script can branch on.
export const EXIT = {
  error: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  notFound: 5,
  conflict: 6,
} as const;

export class CliError extends Error {
  /** The hub's error code ({"error": ...}) when the failure came from the hub. */
  constructor(message: string, readonly exitCode: number = EXIT.error, readonly code?: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** The hub could not be reached at all (nothing listening, DNS, reset). */
export class HubUnreachable extends CliError {
  constructor(readonly url: string, readonly refused: boolean) {
    super(`no hub at ${url}: is it running? (npm start; if its admin origin is on another port, set HUB_URL=http://127.0.0.1:<HUB_ADMIN_PORT>)`, EXIT.unreachable);
  }
}
