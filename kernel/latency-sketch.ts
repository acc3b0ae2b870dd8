// A fixed-size latency histogram for percentiles over one chart interval: log-spaced buckets
// from 0.05 ms to about 2.5 minutes, each 25 % wider than the one before, so a percentile read
// from it is within ±12 % of the true value whatever the spread. Constant memory (BUCKETS
// 32-bit counters), O(1) to record, O(BUCKETS) to read; no sample is kept.

/** Lower edge of the first bucket, in ms; anything faster counts there. */
const FIRST_MS = 0.05;
/** Each bucket's upper edge is this many times its lower edge. */
const GROWTH = 1.25;
/** Bucket count: FIRST_MS · GROWTH^BUCKETS ≈ 150 s; slower answers count in the last one. */
export const BUCKETS = 68;
const LOG_GROWTH = Math.log(GROWTH);

export class LatencySketch {
  private readonly counts = new Uint32Array(BUCKETS);
  /** Answers recorded since the last reset. */
  count = 0;

  /** Counts one answer that took `ms` milliseconds (negative or NaN counts as the fastest bucket). */
  record(ms: number): void {
    const i = ms > FIRST_MS ? Math.min(BUCKETS - 1, Math.floor(Math.log(ms / FIRST_MS) / LOG_GROWTH)) : 0;
    this.counts[i]!++;
    this.count++;
  }

  /** Adds another sketch's counts to this one (a 1-minute point from its 5-second parts). */
  add(other: LatencySketch): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
  }

  /**
   * The q-quantile (0 < q ≤ 1) in ms: the geometric middle of the bucket holding the
   * ⌈q·count⌉-th fastest answer; NaN when nothing was recorded.
   */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return FIRST_MS * GROWTH ** (i + 0.5);
    }
    return FIRST_MS * GROWTH ** (BUCKETS - 0.5);
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
  }
}
