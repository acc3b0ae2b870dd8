// A short, bounded chaos run inside the test suite (`npm run chaos` runs the long one).
import { describe, expect, it } from 'vitest';
import { runChaos, type ChaosReport } from '../bench/chaos.js';

function expectSurvived(r: ChaosReport) {
  expect(r.kernelPidStable).toBe(true);
  expect(r.health.failed).toBe(0);
  expect(r.health.ok).toBeGreaterThan(10);
  expect(r.steady.failed).toBe(0);
  expect(r.steady.ok).toBeGreaterThan(100);
  expect(r.actions.kill! + r.actions.hang! + r.actions.memory!).toBeGreaterThanOrEqual(3);
  for (const rec of r.recoveries) expect(rec.ms, `${rec.victim} after ${rec.action}`).toBeLessThanOrEqual(rec.boundMs);
  expect(r.crashLooper.state).toBe('failed');
  expect(r.crashLooper.restarts).toBeLessThanOrEqual(5);
  expect(r.leftovers).toEqual({ pids: [], ports: [] });
}

describe('chaos', () => {
  it('survives random kills, hangs and leaks, then stops cleanly on SIGTERM', async () => {
    expectSurvived(await runChaos({ durationMs: 12_000, stopWith: 'SIGTERM', seed: 7 }));
  }, 120_000);

  it('leaves nothing behind when the kernel itself is SIGKILLed', async () => {
    expectSurvived(await runChaos({ durationMs: 6_000, stopWith: 'SIGKILL', seed: 3 }));
  }, 120_000);
});
