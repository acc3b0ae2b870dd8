// Reads one module's migrations/ folder into ordered, checksummed units.
// The checksum is taken over normalised text so that a checkout with CRLF line endings
// or an editor that adds a BOM does not look like an edited, already-applied migration.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HubError } from '../shared/errors.js';
import { NO_TRANSACTION_MARKER } from './migration-sql.js';

export interface MigrationFile {
  version: number;
  /** The part after `NNN_`, without `.sql`. */
  name: string;
  /** The file name, e.g. `001_init.sql`. */
  file: string;
  path: string;
  up: string;
  /** null when the file has no (or an empty) `-- migrate:down` section. */
  down: string | null;
  /** 1-based line of the file where the down SQL starts, so errors in it map to file lines. */
  downStartLine: number;
  checksum: string;
  /** The first line is `-- migrate:no-transaction`: run statement by statement, outside a transaction. */
  noTransaction: boolean;
}

const FILE_RE = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/;
/** Files a migrations folder may hold besides migrations: dotfiles (.gitkeep) and notes (*.md). */
const IGNORED_RE = /^\.|\.md$/i;
/** Largest migration file the kernel reads (16 MB). */
export const MAX_FILE_BYTES = 16 * 1048576;
const DOWN_MARKER_RE = /^[ \t]*--[ \t]*migrate:down[ \t]*$/i;

export function normaliseSql(content: string): string {
  return content.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
}

export function checksumOf(content: string): string {
  return createHash('sha256').update(normaliseSql(content), 'utf8').digest('hex');
}

/** Splits at the first `-- migrate:down` line: before it is up, after it is down. */
export function parseMigration(file: string, path: string, raw: string): MigrationFile {
  const m = FILE_RE.exec(file);
  if (!m) throw new HubError('migration_failed', `migrations/${file} is not named NNN_name.sql`, { file });
  const text = normaliseSql(raw);
  const lines = text.split('\n');
  const markerIdx = lines.findIndex((l) => DOWN_MARKER_RE.test(l));
  const up = markerIdx === -1 ? text : lines.slice(0, markerIdx).join('\n');
  const downText = markerIdx === -1 ? '' : lines.slice(markerIdx + 1).join('\n');
  return {
    version: Number.parseInt(m[1]!, 10),
    name: m[2]!,
    file,
    path,
    up,
    down: downText.trim() === '' ? null : downText,
    downStartLine: markerIdx === -1 ? 0 : markerIdx + 2,
    checksum: checksumOf(raw),
    noTransaction: NO_TRANSACTION_MARKER.test(lines[0] ?? ''),
  };
}

/**
 * `dir` is the migrations folder itself. A missing folder means "no migrations". Every other
 * entry must be named NNN_name.sql (lower-case .sql; dotfiles and *.md notes are left alone):
 * a misnamed file is an error naming it (`migrations/002-add_b.sql is not named NNN_name.sql`),
 * never silently skipped, because a skipped migration is a schema that differs from the author's.
 * The folder and every NNN_name.sql must be plain (no symbolic links): `migration_failed`.
 */
export async function readMigrationDir(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    // a link is refused, folder or file: the tested content hash (module-fingerprint.ts) does
    // not follow links, so SQL behind one could change after `hubctl test` without untesting
    if ((await lstat(dir)).isSymbolicLink()) throw new HubError('migration_failed', `migrations is a symbolic link; make it a plain folder`);
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const files: MigrationFile[] = [];
  const misnamed = names.filter((f) => !FILE_RE.test(f) && !IGNORED_RE.test(f)).sort();
  if (misnamed.length > 0) {
    const more = misnamed.length > 1 ? ` (and ${misnamed.slice(1).join(', ')})` : '';
    throw new HubError('migration_failed', `migrations/${misnamed[0]} is not named NNN_name.sql${more}`, { files: misnamed });
  }
  for (const file of names) {
    if (!FILE_RE.test(file)) continue;
    const path = join(dir, file);
    const st = await lstat(path);
    if (!st.isFile()) throw new HubError('migration_failed', `migrations/${file} is not a plain file (a symbolic link?); make it one`);
    // every start reads every file into the kernel's memory; a module's files are not to fill it
    if (st.size > MAX_FILE_BYTES) {
      throw new HubError('migration_failed',
        `migrations/${file} is ${(st.size / 1048576).toFixed(1)} MB, over the ${MAX_FILE_BYTES / 1048576} MB limit for a migration file; split it, or load bulk data from the module's code`, { file });
    }
    files.push(parseMigration(file, path, await readFile(path, 'utf8')));
  }
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1]!;
    const cur = files[i]!;
    if (prev.version === cur.version) {
      throw new HubError(
        'migration_failed',
        `${dir}: ${prev.file} and ${cur.file} share the number ${cur.version}; renumber one of them`,
      );
    }
  }
  return files;
}

/**
 * Maps PostgreSQL's error `position` (1-based, in characters of the query text sent)
 * to a 1-based line of the file; `startLine` is the file line where that text begins.
 */
export function lineOfPosition(sqlText: string, position: number, startLine = 1): number {
  const before = Array.from(sqlText).slice(0, Math.max(0, position - 1)).join('');
  return startLine + (before.match(/\n/g)?.length ?? 0);
}
