// The recent notices in memory (issue 18 item 4), for GET /api/v1/notices and the dashboard:
// a ring of the last RING_SIZE, each at most about 1 KB (messages are cut to MESSAGE_MAX
// characters), so at most about 200 KB. Ids grow from 1 for the kernel's life.

/** What the kernel POSTs to HUB_NOTIFY_URL and lists at GET /api/v1/notices (README "Notices"). */
export interface Notice {
  id: number;
  /** ISO 8601 UTC. */
  time: string;
  type: NoticeType;
  module: string;
  /** The module's state when it happened. */
  state: string;
  /** What happened, e.g. the last error (module-made text: data, never markup). */
  message: string;
  /** Who switched it, for module.enabled / module.disabled (`admin-token`, a user); else null. */
  actor: string | null;
  restarts: number;
}

export type NoticeType = 'module.crashed' | 'module.failed' | 'module.recovered' | 'module.enabled' | 'module.disabled';

export const RING_SIZE = 200;
export const MESSAGE_MAX = 500;

export class NoticeRing {
  private readonly items: Notice[] = [];
  private nextId = 1;

  /** Stores a notice made of `fields`, with the next id and the time now; returns it. */
  add(fields: Omit<Notice, 'id' | 'time'>): Notice {
    const n: Notice = { id: this.nextId++, time: new Date().toISOString(), ...fields, message: fields.message.slice(0, MESSAGE_MAX) };
    this.items.push(n);
    if (this.items.length > RING_SIZE) this.items.shift();
    return n;
  }

  /** Notices with an id above `after`, newest first, at most `limit`. */
  list(after = 0, limit = RING_SIZE): Notice[] {
    const out: Notice[] = [];
    for (let i = this.items.length - 1; i >= 0 && out.length < limit; i--) {
      const n = this.items[i]!;
      if (n.id <= after) break;
      out.push(n);
    }
    return out;
  }

  /** The newest id given so far (0 before the first). */
  get lastId(): number {
    return this.nextId - 1;
  }
}
