// Crash backoff (kernel/backoff.ts): delays, the sliding window, and unstable runs in a row.
import { describe, expect, it } from 'vitest';
import { CrashBackoff } from '../../kernel/backoff.js';

const policy = { baseMs: 100, maxMs: 10_000, stableRunMs: 10_000, windowMs: 60_000, limit: 5 };

describe('CrashBackoff', () => {
  it('retries at once, then doubles up to the cap', () => {
    const b = new CrashBackoff({ ...policy, limit: 100, windowMs: 1 }, () => 0.5);
    const delays = Array.from({ length: 9 }, (_, i) => b.onCrash(0, i * 1000));
    expect(delays[0]).toBeLessThan(20);
    expect(delays.slice(1, 4)).toEqual([100, 200, 400]);
    expect(delays[8]).toBe(10_000);
  });
  it('gives up after `limit` crashes in the window', () => {
    const b = new CrashBackoff(policy, () => 0.5);
    const out = [0, 1, 2, 3, 4].map((i) => b.onCrash(0, i * 100));
    expect(out.slice(0, 4).every((d) => d !== null)).toBe(true);
    expect(out[4]).toBeNull();
  });
  it('gives up after `limit` never-ready starts in a row even when they are slower than window/limit (issue 13 item 1)', () => {
    // default timings: a 15 s start timeout, so only 4 crashes ever fit in 60 s
    const b = new CrashBackoff(policy, () => 0.5);
    const out = [0, 1, 2, 3, 4].map((i) => b.onCrash(0, i * 15_500));
    expect(b.crashesInWindow(4 * 15_500)).toBe(4);
    expect(out[4]).toBeNull();
    expect(b.crashesInARow()).toBe(5);
  });
  it('a stable run (counted from ready) resets the delay and the run of crashes', () => {
    const b = new CrashBackoff({ ...policy, windowMs: 1 }, () => 0.5);
    for (let i = 0; i < 4; i++) b.onCrash(0, i * 1000);
    expect(b.onCrash(10_000, 100_000)).toBeLessThan(20);
    expect(b.crashesInARow()).toBe(1);
  });
});
