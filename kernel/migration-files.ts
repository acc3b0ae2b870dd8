// Reads one module's migrations/ folder into ordered, checksummed units.
// The checksum is taken over normalised text so that a checkout with CRLF line endings
// or an editor that adds a BOM does not look like an edited, already-applied migration.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HubError } from '../shared/errors.js';

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
}

const FILE_RE = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$/;
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
  if (!m) throw new HubError('migration_failed', `${file} is not named NNN_name.sql`);
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
  };
}

/** `dir` is the migrations folder itself. A missing folder means "no migrations". */
export async function readMigrationDir(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const files: MigrationFile[] = [];
  for (const file of names) {
    if (!FILE_RE.test(file)) continue;
    const path = join(dir, file);
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

/**
 * Finds a statement-level BEGIN/COMMIT/ROLLBACK/START TRANSACTION/ABORT. The migrator already
 * wraps each file in a transaction; a COMMIT inside it would commit early, drop the module's
 * role (SET LOCAL ends with the transaction) and leave the rest of the file unchecked.
 */
export function findTransactionControl(sql: string): { keyword: string; line: number } | null {
  const code = blankLiteralsAndComments(sql);
  const re = /(^|;)(\s*)(BEGIN|COMMIT|ROLLBACK(?!\s+TO\b)|START\s+TRANSACTION|ABORT)\b/gi;
  const m = re.exec(code);
  if (!m) return null;
  const at = m.index + m[1]!.length + m[2]!.length;
  return { keyword: m[3]!.toUpperCase().replace(/\s+/g, ' '), line: 1 + (code.slice(0, at).match(/\n/g)?.length ?? 0) };
}

/** Replaces comments, quoted strings and dollar-quoted bodies with spaces, keeping newlines. */
function blankLiteralsAndComments(sql: string): string {
  let out = '';
  let i = 0;
  const skipTo = (end: number): void => {
    out += sql.slice(i, end).replace(/[^\n]/g, ' ');
    i = end;
  };
  while (i < sql.length) {
    const rest = sql.slice(i, i + 2);
    const ch = sql[i]!;
    if (rest === '--') {
      const nl = sql.indexOf('\n', i);
      skipTo(nl === -1 ? sql.length : nl);
    } else if (rest === '/*') {
      const end = sql.indexOf('*/', i + 2);
      skipTo(end === -1 ? sql.length : end + 2);
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j + 1] !== ch)) j += sql[j] === ch ? 2 : 1;
      skipTo(Math.min(sql.length, j + 1));
    } else if (ch === '$' && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      skipTo(end === -1 ? sql.length : end + tag.length);
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}
