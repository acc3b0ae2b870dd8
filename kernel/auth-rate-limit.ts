// Sign-in throttling, for every password guess the public origin takes (the sign-in route and
// the password confirmation of a browser-made token). Three limits, each a fixed window that
// starts at the bucket's first failure and ends by itself:
// - MAX_FAILURES per username + client in WINDOW_MS (15 min);
// - MAX_IP_FAILURES per client over all usernames in WINDOW_MS;
// - MAX_NAME_FAILURES per username over all clients in NAME_WINDOW_MS (5 min): many
//   addresses guessing one name get at most 20 guesses per 5 minutes (240 an hour). While
//   such an attack goes on the name's owner is slowed down too (429 with Retry-After); it is
//   never a lockout: the window expires and nothing needs an operator.
// Past a limit every attempt is refused with `rate_limited` (429) and Retry-After, without
// checking the password (so guessing costs the attacker time, not the kernel CPU).
// An attempt counts as a failure from the moment it is let through (`begin`), before the
// password is checked, and a success takes its count back (`succeed`): checking first and
// counting after the ~30 ms of argon2 let every guess sent at once pass the check before the
// first was counted (60 concurrent guesses were all verified; tests/identity-concurrency.test.ts).
// A "client" is an address as the kernel sees it, grouped: every loopback address (127/8,
// ::1, and the IPv4-mapped forms) is one client (a proxy on this machine, or anybody picking
// 127.0.0.x source addresses), and an IPv6 address counts by its /64 (one host owns a /64).
// Per kernel, in memory. The map is bounded (MAX_KEYS, generous); when full, expired buckets
// go first, then the oldest bucket that is not refusing anything, and only then the oldest:
// it is never reset, so filling it with made-up names does not wipe the limits in force.
import { clientAddressKey, isLoopback } from './client-address.js';
import { HubError } from '../shared/errors.js';

export const WINDOW_MS = 15 * 60 * 1000;
export const NAME_WINDOW_MS = 5 * 60 * 1000;
export const MAX_FAILURES = 5;
export const MAX_IP_FAILURES = 30;
export const MAX_NAME_FAILURES = 20;
const MAX_KEYS = 100_000;

interface Bucket {
  failures: number;
  since: number;
  max: number;
  windowMs: number;
}

/** The client a sign-in counts against: loopback is one client, IPv6 counts by its /64 (kernel/client-address.ts). */
export function clientKey(address: string): string {
  return isLoopback(address) ? 'loopback' : clientAddressKey(address);
}

export class SignInLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly windowMs = WINDOW_MS, private readonly nameWindowMs = NAME_WINDOW_MS, private readonly maxKeys = MAX_KEYS) {}

  private keys(username: string, ip: string): [string, number, number][] {
    const client = clientKey(ip);
    return [
      [`u:${username}|${client}`, MAX_FAILURES, this.windowMs],
      [`i:${client}`, MAX_IP_FAILURES, this.windowMs],
      [`n:${username}`, MAX_NAME_FAILURES, this.nameWindowMs],
    ];
  }

  private bucket(key: string, now: number): Bucket | undefined {
    const b = this.buckets.get(key);
    if (b && now - b.since > b.windowMs) {
      this.buckets.delete(key);
      return undefined;
    }
    return b;
  }

  /** Throws HubError `rate_limited` (details.retry_after_s) when the pair, client or username is over its limit. */
  check(username: string, ip: string, now = Date.now()): void {
    let retry = 0;
    for (const [key, max] of this.keys(username, ip)) {
      const b = this.bucket(key, now);
      if (b && b.failures >= max) retry = Math.max(retry, Math.ceil((b.since + b.windowMs - now) / 1000));
    }
    if (retry > 0) throw new HubError('rate_limited', `too many failed sign-ins; try again in ${retry} s`, { retry_after_s: retry });
  }

  /**
   * Lets one password check through, counted as a failure until `succeed` takes it back;
   * throws like `check` when a limit is reached. Synchronous, so attempts arriving together
   * cannot all pass before any is counted.
   */
  begin(username: string, ip: string, now = Date.now()): void {
    this.check(username, ip, now);
    this.fail(username, ip, now);
  }

  /** Counts a failed attempt. */
  fail(username: string, ip: string, now = Date.now()): void {
    for (const [key, max, windowMs] of this.keys(username, ip)) {
      const b = this.bucket(key, now);
      if (b) b.failures++;
      else {
        if (this.buckets.size >= this.maxKeys) this.evict(now);
        this.buckets.set(key, { failures: 1, since: now, max, windowMs });
      }
    }
  }

  /**
   * After `begin`, a right password: clears the pair's count, and takes back the one failure
   * `begin` counted against the client and the username (their earlier failures stay).
   */
  succeed(username: string, ip: string, now = Date.now()): void {
    const [pair, ...rest] = this.keys(username, ip);
    this.buckets.delete(pair![0]);
    for (const [key] of rest) {
      const b = this.bucket(key, now);
      if (b && b.failures > 0) b.failures--;
    }
  }

  /** How many buckets are kept (tests). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Makes room: expired buckets, else the oldest that refuse nothing (1% of the cap at once, so
   * a flood does not scan the map for every insert), else the oldest. Never all of them.
   */
  private evict(now: number): void {
    const room = Math.max(1, Math.floor(this.maxKeys / 100));
    const quiet: string[] = [];
    for (const [key, b] of this.buckets) {
      if (now - b.since > b.windowMs) this.buckets.delete(key);
      else if (quiet.length < room && b.failures < b.max) quiet.push(key);
    }
    if (this.buckets.size < this.maxKeys) return;
    if (quiet.length) for (const key of quiet) this.buckets.delete(key);
    else this.buckets.delete(this.buckets.keys().next().value!);
  }
}
