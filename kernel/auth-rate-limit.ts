// Sign-in throttling: at most MAX_FAILURES failed sign-ins per username+client address and
// MAX_IP_FAILURES per client address in WINDOW_MS; past that every attempt is refused with
// `rate_limited` (429) and Retry-After, without checking the password (so guessing costs the
// attacker time, not the kernel CPU). Per kernel, in memory, bounded in size.
import { HubError } from '../shared/errors.js';

export const WINDOW_MS = 15 * 60 * 1000;
export const MAX_FAILURES = 5;
export const MAX_IP_FAILURES = 30;
const MAX_KEYS = 20_000;

interface Bucket {
  failures: number;
  since: number;
}

export class SignInLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly windowMs = WINDOW_MS) {}

  private bucket(key: string, now: number): Bucket | undefined {
    const b = this.buckets.get(key);
    if (b && now - b.since > this.windowMs) {
      this.buckets.delete(key);
      return undefined;
    }
    return b;
  }

  /** Throws HubError `rate_limited` (details.retry_after_s) when this pair or address is over its limit. */
  check(username: string, ip: string, now = Date.now()): void {
    for (const [key, max] of [[`u:${username}|${ip}`, MAX_FAILURES], [`i:${ip}`, MAX_IP_FAILURES]] as const) {
      const b = this.bucket(key, now);
      if (b && b.failures >= max) {
        const retry = Math.ceil((b.since + this.windowMs - now) / 1000);
        throw new HubError('rate_limited', `too many failed sign-ins; try again in ${retry} s`, { retry_after_s: retry });
      }
    }
  }

  /** Counts a failed attempt. */
  fail(username: string, ip: string, now = Date.now()): void {
    for (const key of [`u:${username}|${ip}`, `i:${ip}`]) {
      const b = this.bucket(key, now);
      if (b) b.failures++;
      else {
        if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
        this.buckets.set(key, { failures: 1, since: now });
      }
    }
  }

  /** A successful sign-in clears the pair's count (not the address's). */
  succeed(username: string, ip: string): void {
    this.buckets.delete(`u:${username}|${ip}`);
  }
}
