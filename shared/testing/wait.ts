// Waiting on a condition instead of sleeping: polls until the check gives a truthy value or
// the deadline passes. Shared by the module test kit (bmc-hub/testing) and the hub's own tests.

/**
 * Polls `check` every `intervalMs` until it returns a truthy value, which it returns. A check
 * that throws is retried, unless it throws fatal(...). Past `timeoutMs` it throws an Error
 * naming `what` and the last value or error seen.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 50, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      if ((e as { fatal?: boolean })?.fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String((last as Error)?.message ?? JSON.stringify(last))})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** An error that stops waitFor at once instead of being retried (the thing waited on is gone). */
export function fatal(message: string): Error {
  return Object.assign(new Error(message), { fatal: true });
}
