// Passwords: argon2id (RFC 9106) through @node-rs/argon2, a maintained package with prebuilt
// binaries (no compiler at install). Parameters are the package's defaults, which meet OWASP's
// argon2id minimum (m = 19 MiB, t = 2, p = 1); a hash carries its own parameters, so raising
// them later keeps old hashes verifiable. Rule: DESIGN.md "Identity and permissions".
import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { HubError } from '../shared/errors.js';

/** Shortest password accepted, in characters. */
export const MIN_PASSWORD_LENGTH = 10;
/** Longest password accepted, in characters (argon2 has no limit; a megabyte password is a cost attack). */
export const MAX_PASSWORD_LENGTH = 256;

/** Throws HubError `bad_request` for a password outside MIN..MAX_PASSWORD_LENGTH. */
export function checkPasswordShape(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new HubError('bad_request', `password must be a string of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

/** The argon2id PHC string for a password (about 20-40 ms of one core). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

// A hash nobody's password matches, verified when the user does not exist, so a sign-in for an
// unknown name costs what a wrong password costs and the timing does not tell names apart.
let decoy: Promise<string> | null = null;

/** True when `password` matches `stored`; with `stored` null, spends the same time and answers false. */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  if (stored === null) {
    decoy ??= hash(randomBytes(16).toString('hex'));
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** A random password for the first admin: 24 base64url characters (144 bits). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
