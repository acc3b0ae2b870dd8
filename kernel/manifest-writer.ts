// Rewrites the `enabled` flag of a module.json so that a crash mid-write can never leave a
// broken manifest: write a temp file, fsync it, rename it over the original, fsync the
// folder. Only the flag's text changes; the rest of the file keeps its formatting.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubError } from '../shared/errors.js';

export function setEnabledInText(text: string, enabled: boolean): string {
  const original = JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  const re = /("enabled"\s*:\s*)(true|false)/;
  let next: string;
  if (re.test(text)) {
    next = text.replace(re, `$1${enabled}`);
  } else {
    const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? '  ';
    next = text.replace(/\{/, `{\n${indent}"enabled": ${enabled},`).replace(/,(\s*)\}\s*$/, '$1}\n');
  }
  // never trust a regex with someone's manifest: fall back to a plain rewrite when unsure
  const check = JSON.parse(next.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  const same = JSON.stringify({ ...original, enabled }) === JSON.stringify({ ...check, enabled });
  if (check.enabled !== enabled || !same) next = JSON.stringify({ ...original, enabled }, null, 2) + '\n';
  return next;
}

export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  // a dotfile: never part of the module's content (module-fingerprint.ts), so a compile that
  // lists the folder while an enable writes module.json never trips over it
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dir = await open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function persistEnabled(moduleDir: string, enabled: boolean): Promise<void> {
  const file = join(moduleDir, 'module.json');
  const text = await readFile(file, 'utf8');
  let next: string;
  try {
    next = setEnabledInText(text, enabled);
  } catch (e) {
    // edited by hand into something that is not JSON (or caught mid-save by an editor)
    throw new HubError('manifest_invalid', `modules/${basename(moduleDir)}/module.json is not valid JSON (${(e as Error).message}); fix it, then try again`);
  }
  if (next !== text) await writeFileAtomic(file, next);
}
