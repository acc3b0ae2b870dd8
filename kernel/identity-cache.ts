// Who a session cookie or API token belongs to, cached so the gateway's hot path is a Map
// lookup, not a database read. Entries live IDENTITY_TTL_MS at most. Revocation reaches every
// kernel sooner: changes that take access away bump hub_identity_generation and NOTIFY
// hub_identity; a notification (which any database login can send, a module's included) is
// only a hint to re-read the generation, at most one read every MIN_REREAD_MS; the cache is
// dropped only when the number moved. Unknown secrets are cached as "nobody" too, briefly,
// so a flood of made-up tokens costs one read per token, not one per request.
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import type { Database } from './database.js';
import { ADMIN_IDENTITY, IDENTITY_CHANNEL, type Identity, type IdentityStore } from './identity-store.js';

/** How long a looked-up identity is trusted without a hint, in ms. */
export const IDENTITY_TTL_MS = 10_000;
const MIN_REREAD_MS = 100;
const MAX_ENTRIES = 50_000;
const TOUCH_EVERY_MS = 60_000;

interface Entry {
  identity: Identity | null;
  until: number;
}

export class IdentityCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by clear(): a read that started before a clear must not be cached after it. */
  private epoch = 0;
  private generation: string | null = null;
  private listener: pg.Client | null = null;
  private closed = false;
  private rereading: Promise<void> | null = null;
  private dirty = false;
  private lastReread = 0;
  private readonly touched = new Map<number, number>();
  private readonly pendingTouch = new Set<number>();
  private touchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly store: IdentityStore, private readonly log: Logger) {}

  /** Session lookup: the identity behind a session id, or null. */
  session(id: string): Promise<Identity | null> | Identity | null {
    return this.lookup(`s:${id}`, () => this.store.sessionIdentity(id));
  }

  /** Dashboard session lookup (admin origin): the admin identity while the session is live, else null. */
  adminSession(id: string): Promise<Identity | null> | Identity | null {
    return this.lookup(`a:${id}`, async () => ((await this.store.adminSessionLive(id)) ? ADMIN_IDENTITY : null));
  }

  /** Token lookup: the identity behind a `bmc_pat_` token, or null; stamps last-used (batched). */
  token(token: string): Promise<Identity | null> | Identity | null {
    return this.lookup(`t:${token}`, async () => {
      const found = await this.store.tokenIdentity(token);
      if (!found) return null;
      const { tokenId, ...identity } = found;
      this.touch(tokenId);
      return identity;
    });
  }

  /** A cached answer synchronously when there is one (the hot path), else a promise of the read. */
  private lookup(key: string, read: () => Promise<Identity | null>): Promise<Identity | null> | Identity | null {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.identity;
    // A read that was under way when access was taken away (a sign-out, a revoked grant) holds
    // the answer from before: it may serve the request that asked, but caching it would undo
    // the revocation for IDENTITY_TTL_MS. So it is cached only when no clear() came meanwhile.
    const epoch = this.epoch;
    return read().then((identity) => {
      if (epoch !== this.epoch) return identity;
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      // never past the session's or token's own expiry
      this.entries.set(key, { identity, until: Math.min(Date.now() + IDENTITY_TTL_MS, identity?.expiresAt ?? Infinity) });
      return identity;
    });
  }

  /** Drops every cached identity (this kernel made a change, or the generation moved). */
  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  private touch(tokenId: number): void {
    const last = this.touched.get(tokenId) ?? 0;
    if (Date.now() - last < TOUCH_EVERY_MS) return;
    this.touched.set(tokenId, Date.now());
    this.pendingTouch.add(tokenId);
    this.touchTimer ??= setTimeout(() => {
      this.touchTimer = null;
      const ids = [...this.pendingTouch];
      this.pendingTouch.clear();
      this.store.touchTokens(ids).catch((e: Error) => this.log.warn(`identity: could not stamp token last-used (${e.message})`));
    }, 200);
    this.touchTimer.unref();
  }

  /** LISTENs for hints on a connection of its own (reconnecting when it drops). */
  async listen(db: Database): Promise<void> {
    this.generation = await this.store.generation();
    const c = db.connection;
    const client = new pg.Client({ host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, application_name: 'bmc-hub-identity' });
    client.on('error', (err) => {
      this.log.warn(`identity: lost the LISTEN connection (${err.message}); reconnecting`);
      this.listener = null;
      this.clear();
      if (!this.closed) setTimeout(() => void this.listen(db).catch(() => undefined), 1000).unref();
    });
    client.on('notification', () => this.hint());
    await client.connect();
    await client.query(`LISTEN ${IDENTITY_CHANNEL}`);
    this.listener = client;
  }

  /** Coalesces hints: one re-read of the generation in flight, at most one every MIN_REREAD_MS. */
  private hint(): void {
    this.dirty = true;
    if (this.rereading || this.closed) return;
    this.rereading = (async () => {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        const wait = this.lastReread + MIN_REREAD_MS - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref());
        this.lastReread = Date.now();
        try {
          const g = await this.store.generation();
          if (g !== this.generation) {
            this.generation = g;
            this.clear();
          }
        } catch (e) {
          this.log.warn(`identity: cannot re-read the generation (${(e as Error).message}); dropping the cache`);
          this.clear();
        }
      }
    })().finally(() => {
      this.rereading = null;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.touchTimer) clearTimeout(this.touchTimer);
    await this.listener?.end().catch(() => undefined);
    await this.rereading?.catch(() => undefined);
  }
}
