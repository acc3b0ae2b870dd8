// The audit trail (hub_audit): every admin action and every refused request, who/what/when/
// result. Writes are queued and flushed in batches off the request path. Two queues:
// - refusals (`request.refused` from the gateway, anonymous refusals of kernel routes on
//   either origin, and rate-limited sign-ins),
//   which anybody can cause at will: capped at MAX_ROWS_PER_FLUSH rows per flush, the rest
//   counted into one `audit.overflow` summary row, so nobody can fill the database or slow the
//   gateway by being refused;
// - everything else (admin actions, grants, sign-in/out, token create/revoke): never dropped,
//   written in full at every flush (in chunks of WRITE_CHUNK rows), whatever the flood of
//   refusals does. These need a credential or are rate-limited, so they cannot be flooded.
import type pg from 'pg';
import type { Logger } from '../shared/logger.js';

export interface AuditEvent {
  /** Username, `admin-token`, or `anonymous`; for refusals also the client address. */
  actor: string;
  /** e.g. `user.create`, `grant.add`, `module.enable`, `request.refused`, `auth.login`. */
  action: string;
  target?: string;
  /** `ok`, `refused`, `failed`, or an error code. */
  result: string;
  detail?: Record<string, unknown>;
}

const FLUSH_MS = 200;
const MAX_ROWS_PER_FLUSH = 200;
const WRITE_CHUNK = 1000;

/** The detail as JSON of at most 2000 characters; a longer one becomes {"truncated": "<its start>"} (a cut JSON text would fail the whole insert). */
function detailJson(detail: Record<string, unknown> | undefined): string | null {
  if (!detail) return null;
  const text = JSON.stringify(detail);
  return text.length <= 2000 ? text : JSON.stringify({ truncated: text.slice(0, 1900) });
}

/** True for the events anybody can cause at will (refused requests): capped per flush. */
export function isFloodable(e: AuditEvent): boolean {
  // anything a client without the admin credential makes the kernel's routes answer
  return e.action === 'request.refused' || (e.actor.startsWith('anonymous@') && (e.action.startsWith('admin ') || e.action.startsWith('public ')));
}
const MAX_FIELD = 300;

export class AuditTrail {
  /** Events that are never dropped. */
  private kept: AuditEvent[] = [];
  /** Refusals, at most MAX_ROWS_PER_FLUSH per flush. */
  private queue: AuditEvent[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly pool: pg.Pool | null, private readonly log: Logger) {}

  /** Queues one event (never throws, never waits). */
  record(e: AuditEvent): void {
    if (!this.pool) return;
    if (!isFloodable(e)) this.kept.push(e);
    else if (this.queue.length >= MAX_ROWS_PER_FLUSH) this.dropped++;
    else this.queue.push(e);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flushing = this.flushing.then(() => this.flush());
    }, FLUSH_MS);
    this.timer.unref();
  }

  /** Writes what is queued now (tests and shutdown call it to be sure). */
  async flush(): Promise<void> {
    const rows = [...this.kept, ...this.queue];
    const dropped = this.dropped;
    this.kept = [];
    this.queue = [];
    this.dropped = 0;
    if (dropped > 0) rows.push({ actor: 'hub', action: 'audit.overflow', result: 'dropped', detail: { events: dropped } });
    if (!rows.length || !this.pool) return;
    const cut = (s: string | undefined) => (s ?? '').slice(0, MAX_FIELD);
    for (let at = 0; at < rows.length; at += WRITE_CHUNK) {
      const chunk = rows.slice(at, at + WRITE_CHUNK);
      try {
        await this.pool.query(
          `INSERT INTO hub_audit (actor, action, target, result, detail)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])`,
          [chunk.map((r) => cut(r.actor)), chunk.map((r) => cut(r.action)), chunk.map((r) => cut(r.target)), chunk.map((r) => cut(r.result)),
            chunk.map((r) => detailJson(r.detail))],
        );
      } catch (e) {
        this.log.warn(`audit: could not write ${chunk.length} events (${(e as Error).message})`);
      }
    }
  }

  /** The newest events first; `limit` 1..1000. */
  async list(limit = 100): Promise<{ id: number; at: string; actor: string; action: string; target: string; result: string; detail: unknown }[]> {
    if (!this.pool) return [];
    await this.flushNow();
    const { rows } = await this.pool.query<{ id: string; at: Date; actor: string; action: string; target: string; result: string; detail: unknown }>(
      'SELECT id, at, actor, action, target, result, detail FROM hub_audit ORDER BY id DESC LIMIT $1',
      [Math.max(1, Math.min(1000, limit))],
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() }));
  }

  /** Flushes pending events immediately. */
  async flushNow(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.flushing = this.flushing.then(() => this.flush());
    await this.flushing;
  }
}
