// HTTP client for the kernel's admin API. Every failure becomes one CliError whose message
// says what happened and what to do; the server's own message is used where it has one.
import type { ModuleRecord } from '../kernel/module-record.js';
import { adminToken, hubUrl } from './env.js';
import { CliError, EXIT, HubUnreachable } from './errors.js';
import { stripControlsDeep } from '../shared/terminal-safe.js';

export type { ModuleRecord };

interface ErrorBody {
  error?: string;
  message?: string;
  details?: Record<string, unknown>;
}

function networkCode(e: unknown): string | undefined {
  const cause = (e as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.[0]?.code;
}

export class HubClient {
  constructor(readonly baseUrl: string = hubUrl(), private readonly token: string | undefined = adminToken()) {}

  private async send(method: string, path: string, accept: string, timeoutMs: number | null, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
      });
    } catch (e) {
      if ((e as Error).name === 'TimeoutError') {
        throw new CliError(`the hub at ${this.baseUrl} did not answer ${method} ${path} within ${Math.round(timeoutMs! / 1000)} s, see hubctl logs or the kernel's console`);
      }
      const code = networkCode(e);
      throw new HubUnreachable(this.baseUrl, code === 'ECONNREFUSED');
    }
  }

  /** A JSON request; a non-2xx answer is thrown as a CliError. */
  async json<T>(method: 'GET' | 'POST' | 'DELETE', path: string, timeoutMs: number | null = 30_000, payload?: unknown): Promise<T> {
    const res = await this.send(method, path, 'application/json', timeoutMs, payload);
    const text = await res.text();
    let body: unknown;
    try {
      // what the hub answers carries module text (last_error, names of things): no terminal
      // control sequence of a module's reaches the operator's terminal, whichever command prints it
      body = text ? stripControlsDeep(JSON.parse(text)) : null;
    } catch {
      throw new CliError(`${this.baseUrl} answered ${res.status} with ${res.headers.get('content-type') ?? 'no content type'}, not JSON: is HUB_URL a BMC Hub?`);
    }
    if (!res.ok) throw this.failure(res.status, body as ErrorBody | null);
    return body as T;
  }

  /** A streaming GET (logs); the caller reads the body. */
  async stream(path: string, accept = 'application/x-ndjson'): Promise<Response> {
    const res = await this.send('GET', path, accept, null);
    if (!res.ok) {
      const body = stripControlsDeep(await res.json().catch(() => null)) as ErrorBody | null;
      throw this.failure(res.status, body);
    }
    return res;
  }

  failure(status: number, body: ErrorBody | null): CliError {
    const e = this.describeFailure(status, body);
    return new CliError(e.message, e.exitCode, body?.error);
  }

  private describeFailure(status: number, body: ErrorBody | null): CliError {
    const message = body?.message ?? `HTTP ${status}`;
    switch (status) {
      case 401:
        return new CliError(
          this.token
            ? 'the hub refused the admin token (401), set HUB_ADMIN_TOKEN (or HUB_DATA_DIR) to the one the hub uses'
            : 'the hub needs the admin token (401), set HUB_ADMIN_TOKEN, or HUB_DATA_DIR to the hub\'s data folder (it holds admin-token)',
          EXIT.auth,
        );
      case 403:
        return new CliError(`forbidden (403): ${message}`, EXIT.auth);
      case 404:
        return new CliError(body?.error === 'module_not_found' ? `${message.replace(/; see GET .*$/, '')}, see hubctl status` : `not found (404): ${message}`, EXIT.notFound);
      case 409:
        return new CliError(message, EXIT.conflict);
      case 400:
        return new CliError(message, EXIT.usage);
      default:
        return new CliError(message);
    }
  }

  modules(): Promise<ModuleRecord[]> {
    return this.json<ModuleRecord[]>('GET', '/api/v1/modules', 15_000);
  }

  health(): Promise<{ status: string; modules: Record<string, string> }> {
    return this.json('GET', '/health', 15_000);
  }

  /** enable / disable / restart: waits as long as the kernel takes (migrations, drain). */
  action(name: string, verb: 'enable' | 'disable' | 'restart'): Promise<ModuleRecord & { enabled_dependencies?: string[] }> {
    return this.json('POST', `/api/v1/modules/${encodeURIComponent(name)}/${verb}`, 10 * 60_000);
  }
}
