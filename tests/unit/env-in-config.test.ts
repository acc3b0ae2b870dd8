// Every environment variable is read in kernel/config.ts (issue 13): the kernel checks them all
// in one pass at start and hands the checked values down (config.limits, config.migration, …),
// so no other kernel file reads HUB_* from the environment, where a bad value would be silently
// replaced by a default. (kernel/child-env.ts builds a child's environment from an allow-list and
// may read PATH and the like; MODULES__<NAME>__* module variables are not HUB_*.)
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../../shared/paths.js';

/**
 * Files being changed by another engineer right now (the auth files); config.ts already checks
 * their variables (config.auth, config.secureCookies). Remove a file here once it takes them from the config.
 */
const PENDING = new Set<string>();

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

const READ = /\benv\.HUB_|\benv\[\s*['"`]HUB_/;

describe('environment variables', () => {
  it('no kernel file but config.ts reads HUB_* from the environment', () => {
    const found: string[] = [];
    for (const f of files(join(HUB_ROOT, 'kernel'))) {
      const rel = relative(HUB_ROOT, f);
      if (rel === 'kernel/config.ts' || PENDING.has(rel)) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (READ.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('the kernel-side IPC limit is not read from the environment either', () => {
    expect(readFileSync(join(HUB_ROOT, 'shared/ipc-channel.ts'), 'utf8')).not.toMatch(READ);
  });
});
