// Several kernels on one database agree on which modules are enabled. Every enable or
// disable is recorded in hub_module_state, which only the kernel's login may write (module
// roles have no privilege on it), and announced with NOTIFY. A notification carries no
// decision: anyone who can connect can NOTIFY any channel, a module's own database role
// included. It is only a hint to re-read hub_module_state; the table is the truth. Hints are
// coalesced (at most one re-read in flight and one per `minIntervalMs`), so a module flooding
// NOTIFY costs the kernel a few reads a second, not one per notification. A kernel that
// starts later adopts the recorded state.
import pg from 'pg';
import { toHubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { isValidModuleName } from '../shared/names.js';
import type { Database } from './database.js';

const CHANNEL = 'hub_module_state';
const MIN_REREAD_INTERVAL_MS = 250;

export class ClusterSync {
  private listener: pg.Client | null = null;
  private closed = false;
  /** What this kernel last knew hub_module_state to say, module → enabled. */
  private readonly known = new Map<string, boolean>();
  private rereading: Promise<void> | null = null;
  private dirty = false;
  private lastReread = 0;
  /** Notifications received on the channel, whoever sent them. */
  hints = 0;
  /** How many times this kernel re-read hub_module_state because of notifications (for tests and metrics). */
  rereads = 0;

  constructor(private readonly db: Database, private readonly minIntervalMs = MIN_REREAD_INTERVAL_MS) {}

  /**
   * Records and re-reads take turns: a re-read (woken by this kernel's own NOTIFY) that ran
   * between a record's memory and its write would see the row as it was and take this
   * kernel's own earlier decision for another kernel's, applying it back.
   */
  private turn: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Records a decision; announces it only when it changes what was recorded. */
  record(module: string, enabled: boolean): Promise<void> {
    return this.exclusive(() => this.recordNow(module, enabled));
  }

  private async recordNow(module: string, enabled: boolean): Promise<void> {
    this.known.set(module, enabled);
    const { rows } = await this.db.pool.query(
      `INSERT INTO hub_module_state (module, enabled, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (module) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()
       WHERE hub_module_state.enabled IS DISTINCT FROM EXCLUDED.enabled
       RETURNING module`,
      [module, enabled],
    );
    if (rows.length > 0) await this.db.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, module]);
  }

  /** What the cluster decided so far, with when, for a kernel that is starting (module → enabled, ms since epoch). */
  async recorded(): Promise<Map<string, { enabled: boolean; at: number }>> {
    const { rows } = await this.db.pool.query<{ module: string; enabled: boolean; updated_at: Date }>('SELECT module, enabled, updated_at FROM hub_module_state');
    for (const r of rows) this.known.set(r.module, r.enabled);
    return new Map(rows.map((r) => [r.module, { enabled: r.enabled, at: new Date(r.updated_at).getTime() }]));
  }

  /**
   * Applies other kernels' decisions as they come: on every notification (whatever its
   * payload) schedules one re-read of hub_module_state and applies each row that differs from
   * what this kernel knew.
   */
  async listen(apply: (module: string, enabled: boolean) => Promise<void>, kernel: { log: Logger }): Promise<void> {
    this.apply = apply;
    this.log = kernel.log;
    await this.connect();
    // what changed between the start's read of the table (recorded()) and this LISTEN: a
    // notification sent meanwhile reached no one
    await this.reread(apply, kernel.log).catch((e) => kernel.log.warn(`cluster sync: cannot re-read hub_module_state (${toHubError(e).message})`));
  }

  private apply: (module: string, enabled: boolean) => Promise<void> = async () => undefined;
  private log: Logger | null = null;
  private reconnecting = false;

  /**
   * One LISTEN connection at a time (issue 13 item 5): a lost connection is ended and replaced
   * once, however many errors it emits; while reconnecting, further errors are ignored. After a
   * reconnect the table is re-read, since notifications sent meanwhile were lost.
   */
  private async connect(): Promise<void> {
    const c = this.db.connection;
    const client = new pg.Client({ host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, application_name: 'bmc-hub-listen' });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', () => this.hint(this.apply, this.log!));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
  }

  private lost(client: pg.Client, err: Error): void {
    if (client !== this.listener || this.closed) return;
    this.listener = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.log?.warn(`cluster sync: lost the LISTEN connection (${err.message}); reconnecting`);
    this.reconnect();
  }

  private reconnect(): void {
    if (this.reconnecting || this.closed) return;
    this.reconnecting = true;
    const attempt = () => {
      if (this.closed) return void (this.reconnecting = false);
      this.connect().then(
        () => {
          this.reconnecting = false;
          this.hint(this.apply, this.log!); // what changed while we were not listening
        },
        () => setTimeout(attempt, 1000).unref(),
      );
    };
    setTimeout(attempt, 250).unref();
  }

  /** Coalesces hints: one re-read in flight, at most one every minIntervalMs, never lost. */
  private hint(apply: (module: string, enabled: boolean) => Promise<void>, log: Logger): void {
    this.hints++;
    this.dirty = true;
    if (this.rereading || this.closed) return;
    this.rereading = (async () => {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        const wait = this.lastReread + this.minIntervalMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait).unref());
        this.lastReread = Date.now();
        this.rereads++;
        try {
          await this.reread(apply, log);
        } catch (e) {
          log.warn(`cluster sync: cannot re-read hub_module_state (${toHubError(e).message})`);
        }
      }
    })().finally(() => { this.rereading = null; });
  }

  private async reread(apply: (module: string, enabled: boolean) => Promise<void>, log: Logger): Promise<void> {
    // read and compared in one turn; applied after it (applying records nothing: source 'cluster')
    const changed = await this.exclusive(async () => {
      const { rows } = await this.db.pool.query<{ module: string; enabled: boolean }>('SELECT module, enabled FROM hub_module_state');
      const out: { module: string; enabled: boolean }[] = [];
      for (const r of rows) {
        if (!isValidModuleName(r.module) || this.known.get(r.module) === r.enabled) continue;
        this.known.set(r.module, r.enabled);
        out.push(r);
      }
      return out;
    });
    for (const r of changed) {
      log.info({ module: r.module }, `🔗 Another kernel ${r.enabled ? 'enabled' : 'disabled'} ${r.module}; applying`);
      await apply(r.module, r.enabled).catch((e) => log.error({ module: r.module }, `cluster sync: ${toHubError(e).message}`));
    }
  }

  /** Resolves once the hints received so far have been handled. */
  async idle(): Promise<void> {
    while (this.rereading) await this.rereading.catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const l = this.listener;
    this.listener = null;
    l?.removeAllListeners('end');
    await l?.end().catch(() => undefined);
    await this.rereading?.catch(() => undefined);
  }
}
