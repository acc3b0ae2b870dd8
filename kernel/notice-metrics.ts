// /metrics for notices (issue 18 item 4): how many are waiting, dropped (queue full) and
// delivered, per receiver origin (never the full URL: a webhook's path often holds its secret).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Notices } from './notices.js';

/** Adds hub_notify_queued, hub_notify_dropped_total and hub_notify_delivered_total to `registry`. */
export function registerNoticeMetrics(registry: Registry, notices: Notices, urls: string[]): void {
  const receivers = urls.map((u) => new URL(u).origin);
  const registers = [registry];
  const each = (fn: (receiver: string, s: { queued: number; dropped: number; delivered: number }) => void) =>
    notices.sender.stats().forEach((s, i) => fn(receivers[i] ?? String(i), s));
  new Gauge({
    name: 'hub_notify_queued',
    help: 'Notices waiting to be delivered to a HUB_NOTIFY_URL receiver',
    labelNames: ['receiver'],
    registers,
    collect() {
      this.reset();
      each((receiver, s) => this.set({ receiver }, s.queued));
    },
  });
  new Counter({
    name: 'hub_notify_dropped_total',
    help: 'Notices dropped because a receiver\'s queue was full (HUB_NOTIFY_QUEUE_MAX)',
    labelNames: ['receiver'],
    registers,
    collect() {
      this.reset();
      each((receiver, s) => this.inc({ receiver }, s.dropped));
    },
  });
  new Counter({
    name: 'hub_notify_delivered_total',
    help: 'Notices a receiver answered with 2xx',
    labelNames: ['receiver'],
    registers,
    collect() {
      this.reset();
      each((receiver, s) => this.inc({ receiver }, s.delivered));
    },
  });
}
