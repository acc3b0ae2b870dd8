// Several kernels on one database agree on which modules are enabled. Every enable or
// disable is recorded in hub_module_state and announced with NOTIFY; every kernel LISTENs
// and applies what another kernel decided within moments. A kernel that starts later
// adopts the recorded state. Only a real change is announced, so kernels applying each
// other's notifications never echo them back.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { toHubError } from '../shared/errors.js';
import { isValidModuleName } from '../shared/names.js';
import type { Database } from './database.js';
import type { Kernel } from './kernel.js';

const CHANNEL = 'hub_module_state';

interface Announcement {
  module: string;
  enabled: boolean;
  kernel: string;
}

export class ClusterSync {
  readonly kernelId = randomUUID();
  private listener: pg.Client | null = null;
  private closed = false;

  constructor(private readonly db: Database) {}

  /** Records a decision; announces it only when it changes what was recorded. */
  async record(module: string, enabled: boolean): Promise<void> {
    const { rows } = await this.db.pool.query(
      `INSERT INTO hub_module_state (module, enabled, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (module) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()
       WHERE hub_module_state.enabled IS DISTINCT FROM EXCLUDED.enabled
       RETURNING module`,
      [module, enabled],
    );
    if (rows.length > 0) {
      const note: Announcement = { module, enabled, kernel: this.kernelId };
      await this.db.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(note)]);
    }
  }

  /** What the cluster decided so far, for a kernel that is starting. */
  async recorded(): Promise<Map<string, boolean>> {
    const { rows } = await this.db.pool.query<{ module: string; enabled: boolean }>('SELECT module, enabled FROM hub_module_state');
    return new Map(rows.map((r) => [r.module, r.enabled]));
  }

  /** Applies other kernels' announcements as they come. */
  async listen(apply: (module: string, enabled: boolean) => Promise<void>, kernel: Kernel): Promise<void> {
    const c = this.db.connection;
    const client = new pg.Client({ host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, application_name: 'bmc-hub-listen' });
    client.on('error', (err) => {
      kernel.log.warn({ err }, `cluster sync: lost the LISTEN connection (${err.message}); reconnecting`);
      this.listener = null;
      if (!this.closed) setTimeout(() => void this.listen(apply, kernel).catch(() => undefined), 1000).unref();
    });
    client.on('notification', (msg) => {
      let note: Announcement;
      try {
        note = JSON.parse(msg.payload ?? '') as Announcement;
      } catch {
        return;
      }
      if (note.kernel === this.kernelId || !isValidModuleName(note.module) || typeof note.enabled !== 'boolean') return;
      kernel.log.info({ module: note.module }, `🔗 Another kernel ${note.enabled ? 'enabled' : 'disabled'} ${note.module}; applying`);
      apply(note.module, note.enabled).catch((e) => kernel.log.error({ module: note.module }, `cluster sync: ${toHubError(e).message}`));
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => undefined);
  }
}
