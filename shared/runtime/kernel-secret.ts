// "A child answers only its kernel" (DESIGN.md "Trust boundary", issue 11 item 11). The
// kernel gives each module's process a random secret over IPC (ModuleSpec.secret; for a
// remote module the operator configures it on both sides); the kernel's proxy and its own
// fetches (API docs, remote health and stats) send it in one header. The child checks it in
// constant time before any route runs and removes it, so module code never sees it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header that carries the kernel secret. Client-sent copies are dropped by the gateway. */
export const KERNEL_SECRET_HEADER = 'x-hub-secret';

/** A fresh secret: 32 random bytes, base64url (43 characters). */
export function newKernelSecret(): string {
  return randomBytes(32).toString('base64url');
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A check for incoming requests: true when the request carries `expected` in
 * KERNEL_SECRET_HEADER (constant-time compare of SHA-256 digests). Either way the header is
 * removed from `req.headers` and `req.rawHeaders`, so module code cannot read it.
 * Throws when `expected` is empty: a child without a secret must not start.
 */
export function kernelSecretCheck(expected: string): (req: IncomingMessage) => boolean {
  if (!expected) throw new Error('no kernel secret: the module runtime needs one (ModuleSpec.secret; for serve-module MODULES__<NAME>__SECRET or HUB_MODULE_SECRET)');
  const want = digest(expected);
  return (req) => {
    const got = req.headers[KERNEL_SECRET_HEADER];
    delete req.headers[KERNEL_SECRET_HEADER];
    const raw = req.rawHeaders;
    for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === KERNEL_SECRET_HEADER) raw.splice(i, 2);
    return typeof got === 'string' && got.length > 0 && timingSafeEqual(digest(got), want);
  };
}
