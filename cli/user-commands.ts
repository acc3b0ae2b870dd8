// hubctl's identity commands (DESIGN.md "hubctl", "Identity and permissions"): `user add`,
// `user list`, `user passwd`, `grant`, `revoke`, `token create`. All go to the admin origin
// with the admin credential. A password is read from stdin with --password-stdin, else a
// random one is made and printed once.
import { randomBytes } from 'node:crypto';
import type { HubClient } from './client.js';
import { CliError, EXIT } from './errors.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!text) throw new CliError('--password-stdin: nothing on stdin', EXIT.usage);
  return text;
}

async function passwordFrom(opts: { passwordStdin?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (opts.passwordStdin) return { password: await readStdin(), generated: false };
  return { password: randomBytes(18).toString('base64url'), generated: true };
}

const enc = encodeURIComponent;

/** `hubctl user add <username> [--grant g]… [--password-stdin]`. */
export async function userAdd(client: HubClient, username: string, opts: { grant?: string[]; passwordStdin?: boolean }): Promise<void> {
  const { password, generated } = await passwordFrom(opts);
  const grants = opts.grant ?? [];
  await client.json('POST', '/api/v1/users', 30_000, { username, password, grants });
  process.stdout.write(`user ${username} created${grants.length ? ` with ${grants.join(', ')}` : ''}\n`);
  if (generated) process.stdout.write(`password (shown once): ${password}\n`);
}

/** `hubctl user list [--json]`. */
export async function userList(client: HubClient, opts: { json?: boolean }): Promise<void> {
  const users = await client.json<{ username: string; grants: string[]; created_at: string; sso: boolean }[]>('GET', '/api/v1/users');
  if (opts.json) return void process.stdout.write(JSON.stringify(users, null, 2) + '\n');
  const width = Math.max(8, ...users.map((u) => u.username.length));
  process.stdout.write(`${'USERNAME'.padEnd(width)}  GRANTS\n`);
  for (const u of users) process.stdout.write(`${u.username.padEnd(width)}  ${u.grants.join(', ') || '-'}${u.sso ? '  (sso)' : ''}\n`);
}

/** `hubctl user passwd <username> [--password-stdin]`: also ends the user's sessions. */
export async function userPasswd(client: HubClient, username: string, opts: { passwordStdin?: boolean }): Promise<void> {
  const { password, generated } = await passwordFrom(opts);
  await client.json('POST', `/api/v1/users/${enc(username)}/password`, 30_000, { password });
  process.stdout.write(`password of ${username} changed; their sessions are ended\n`);
  if (generated) process.stdout.write(`password (shown once): ${password}\n`);
}

/** `hubctl grant <user> <grant>` / `hubctl revoke <user> <grant>`. */
export async function grantCommand(client: HubClient, verb: 'grant' | 'revoke', username: string, grant: string): Promise<void> {
  if (verb === 'grant') {
    const r = await client.json<{ added: boolean }>('POST', `/api/v1/users/${enc(username)}/grants`, 30_000, { grant });
    process.stdout.write(r.added ? `${username} now holds ${grant}\n` : `${username} already held ${grant}\n`);
  } else {
    await client.json('DELETE', `/api/v1/users/${enc(username)}/grants/${enc(grant)}`);
    process.stdout.write(`${username} no longer holds ${grant}\n`);
  }
}

/** `hubctl token create <user> [--name N] [--days D]`: prints the token (shown once). */
export async function tokenCreate(client: HubClient, username: string, opts: { name: string; days: number }): Promise<void> {
  const t = await client.json<{ token: string; expires_at: string }>('POST', `/api/v1/users/${enc(username)}/tokens`, 30_000, { name: opts.name, expires_in_days: opts.days });
  process.stdout.write(`${t.token}\n`);
  process.stderr.write(`token for ${username}, expires ${t.expires_at}; shown once, only a hash is kept\n`);
}
