// Delivers notices to HUB_NOTIFY_URL (issue 18 item 4): one queue and one sender per URL, so a
// dead receiver never holds up a live one. Each notice is POSTed as JSON, in order, with a
// deadline per POST (timeoutMs); a failure (network, timeout, non-2xx) is retried after
// retryMs, doubling up to 60 × retryMs, for as long as it takes. The queue holds at most
// queueMax notices per URL: when full, the oldest is dropped, counted (dropped()), and a kernel
// log line says so (at most one per 10 s). Nothing here blocks the kernel: send() only queues,
// timers are unref'd, and stop() abandons what is left. URLs can carry secrets (webhook paths):
// log lines name only the receiver's origin.
import type { Logger } from '../shared/logger.js';
import type { Notice } from './notice-ring.js';

export interface SenderSettings {
  queueMax: number;
  timeoutMs: number;
  retryMs: number;
}

const RETRY_CAP_FACTOR = 60;
const DROP_LOG_EVERY_MS = 10_000;

class Receiver {
  readonly queue: Notice[] = [];
  dropped = 0;
  delivered = 0;
  private busy = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastDropLog = 0;
  private stopped = false;
  private readonly origin: string;

  constructor(private readonly url: string, private readonly s: SenderSettings, private readonly log: Logger) {
    this.origin = new URL(url).origin;
  }

  push(n: Notice): void {
    if (this.stopped) return;
    if (this.queue.length >= this.s.queueMax) {
      this.queue.shift();
      this.dropped++;
      const now = Date.now();
      if (now - this.lastDropLog >= DROP_LOG_EVERY_MS) {
        this.lastDropLog = now;
        this.log.warn({ receiver: this.origin, dropped: this.dropped, queueMax: this.s.queueMax }, `notices to ${this.origin}: queue full (${this.s.queueMax}), dropped the oldest; ${this.dropped} dropped so far`);
      }
    }
    this.queue.push(n);
    if (!this.timer) void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const head = this.queue[0]!;
        const error = await this.post(head);
        if (error === null) {
          if (this.queue[0] === head) this.queue.shift(); // it may have been dropped meanwhile
          this.delivered++;
          if (this.failures > 0) this.log.info({ receiver: this.origin }, `notices to ${this.origin}: delivered again after ${this.failures} failed attempt(s)`);
          this.failures = 0;
          continue;
        }
        this.failures++;
        const delay = Math.min(this.s.retryMs * 2 ** (this.failures - 1), this.s.retryMs * RETRY_CAP_FACTOR);
        if (this.failures === 1) this.log.warn({ receiver: this.origin }, `notices to ${this.origin}: ${error}; retrying with backoff, ${this.queue.length} queued`);
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.pump();
        }, delay);
        this.timer.unref();
        return;
      }
    } finally {
      this.busy = false;
    }
  }

  /** null when the receiver took it (2xx), else why not. */
  private async post(n: Notice): Promise<string | null> {
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'bmc-hub-notify' },
        body: JSON.stringify(n),
        signal: AbortSignal.timeout(this.s.timeoutMs),
        redirect: 'error',
      });
      await res.body?.cancel().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      return err.name === 'TimeoutError' ? `no answer within ${this.s.timeoutMs} ms` : (err.cause?.code ?? err.message);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The senders for every configured URL. */
export class NoticeSender {
  private readonly receivers: Receiver[];

  constructor(urls: string[], settings: SenderSettings, log: Logger) {
    this.receivers = urls.map((u) => new Receiver(u, settings, log));
  }

  /** Queues `n` for every receiver; never waits, never throws. */
  send(n: Notice): void {
    for (const r of this.receivers) r.push(n);
  }

  /** Per receiver origin: queued now, dropped and delivered so far. */
  stats(): { queued: number; dropped: number; delivered: number }[] {
    return this.receivers.map((r) => ({ queued: r.queue.length, dropped: r.dropped, delivered: r.delivered }));
  }

  /** Stops retrying; what is queued is abandoned (kernel shutdown). */
  stop(): void {
    for (const r of this.receivers) r.stop();
  }
}
