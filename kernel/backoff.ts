// When to restart a crashed child, and when to stop trying. The first retry is near
// immediate (most crashes are one-offs), then the delay doubles up to a cap, with jitter
// so many modules crashing together do not restart in lockstep. A run that stayed up
// for stableRunMs (counted from ready: a child that never got ready had no run) resets the
// delay; too many crashes in a sliding window, or `limit` unstable runs in a row however
// slow each one was to fail (a start timeout longer than window/limit), end in `failed`.
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  stableRunMs: number;
  windowMs: number;
  limit: number;
}

export class CrashBackoff {
  private attempt = 0;
  private crashes: number[] = [];
  /** Crashes since the last stable run. */
  private unstable = 0;

  constructor(private readonly policy: BackoffPolicy, private readonly random = Math.random) {}

  /** Records a crash after a run of `uptimeMs`; returns the delay before the next start, or null to give up. */
  onCrash(uptimeMs: number, now = Date.now()): number | null {
    const p = this.policy;
    if (uptimeMs >= p.stableRunMs) {
      this.attempt = 0;
      this.unstable = 0;
    }
    this.unstable++;
    this.crashes = this.crashes.filter((t) => now - t < p.windowMs);
    this.crashes.push(now);
    if (this.crashes.length >= p.limit || this.unstable >= p.limit) return null;
    const n = this.attempt++;
    const raw = n === 0 ? 0 : Math.min(p.maxMs, p.baseMs * 2 ** (n - 1));
    const jitter = n === 0 ? this.random() * 20 : raw * (this.random() * 0.4 - 0.2);
    return Math.max(0, Math.round(raw + jitter));
  }

  crashesInWindow(now = Date.now()): number {
    return this.crashes.filter((t) => now - t < this.policy.windowMs).length;
  }

  /** Crashes since the last run that lasted stableRunMs. */
  crashesInARow(): number {
    return this.unstable;
  }

  reset(): void {
    this.attempt = 0;
    this.unstable = 0;
    this.crashes = [];
  }
}
