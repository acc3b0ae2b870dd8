// The admin credential. HUB_ADMIN_TOKEN wins; otherwise the kernel keeps a random one in
// HUB_DATA_DIR/admin-token (mode 0600), made at first start and reused after, so `hubctl`
// on the same machine (same user, same data folder) can read it. No request is ever admin
// because of where it comes from: a module's child is a loopback client too.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * The admin credential for this kernel: `configured` (HUB_ADMIN_TOKEN) if given, else the
 * content of `<dataDir>/admin-token`, created as 32 random bytes in base64url (43 chars)
 * with mode 0600 when missing or empty. Throws the file system's error if the data folder
 * cannot be written (the kernel then refuses to start rather than run without a credential).
 * Rule: DESIGN.md "Environment" (HUB_ADMIN_TOKEN) and issue 11 item 5.
 */
export async function ensureAdminToken(dataDir: string, configured: string | undefined): Promise<{ token: string; source: 'env' | 'file' | 'created'; file: string }> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (configured) return { token: configured, source: 'env', file };
  const existing = await readFile(file, 'utf8').then((t) => t.trim(), () => '');
  if (existing) {
    await chmod(file, 0o600).catch(() => undefined);
    return { token: existing, source: 'file', file };
  }
  const token = randomBytes(32).toString('base64url');
  await writeFile(file, token + '\n', { mode: 0o600 });
  await chmod(file, 0o600); // the umask may have narrowed it further; never wider
  return { token, source: 'created', file };
}
