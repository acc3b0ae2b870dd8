// Reads a migration's SQL with PostgreSQL's own parser (libpg-query, the server's grammar
// compiled to WebAssembly) before any of it runs, so the kernel sees statements exactly
// where the server would: `END` is a COMMIT, `E'it\'s; begin'` is one string, a nested
// comment hides what it hides. This replaces every hand-written split of SQL in the hub.
//
// Refused, with file and line, before anything runs:
//   - transaction control (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT,
//     RELEASE, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED): each file already runs in its
//     own transaction, and a COMMIT would end it early;
//   - role and session changes (SET/RESET ROLE, SET/RESET SESSION AUTHORIZATION, CREATE/ALTER/
//     DROP ROLE|USER|GROUP, GRANT/REVOKE role membership).
// This is the first wall; the second is that migrations log in as the module's owner role,
// so whatever a DO block or dynamic SQL does, it does as that role (see module-roles.ts).
import { loadModule, parse, scanSync } from 'libpg-query';
import { HubError } from '../shared/errors.js';

/** One top-level statement of a file, with its text and 1-based file line. */
export interface SqlStatement {
  /** The parse tree's node name, e.g. `CreateStmt`, `IndexStmt`. */
  node: string;
  /** The parse tree under `node` (libpg-query's JSON form). */
  tree: Record<string, unknown>;
  /** The statement's text, without the trailing semicolon. */
  text: string;
  /** 1-based line of the file where the statement's first token is. */
  line: number;
  /** Its leading keywords, upper case, e.g. `END`, `SET ROLE`, `CREATE INDEX`. */
  keyword: string;
}

/** The first line that makes a file run statement by statement outside a transaction. */
export const NO_TRANSACTION_MARKER = /^[ \t]*--[ \t]*migrate:no-transaction[ \t]*$/i;

/** Statements allowed in a `-- migrate:no-transaction` file: the ones PostgreSQL refuses inside a transaction. */
const NO_TRANSACTION_NODES = new Set(['IndexStmt', 'DropStmt', 'ReindexStmt', 'VacuumStmt', 'AlterEnumStmt']);

const ROLE_NODES = new Set(['CreateRoleStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'DropRoleStmt', 'GrantRoleStmt']);
const ROLE_SETTINGS = new Set(['role', 'session_authorization']);

let loaded: Promise<void> | null = null;

/**
 * Parses `sql` (one file's up or down part) into statements. `where` is the file as named in
 * errors (`<module>/migrations/<file>`), `startLine` the file line where `sql` begins.
 * Throws HubError `migration_failed`:
 *   `<where>: syntax error at or near "X" at line N` when PostgreSQL could not parse it;
 *   `<where>: END at line N; remove transaction statements` for transaction control;
 *   `<where>: SET ROLE at line N; migrations run as the module's own role, remove role changes`.
 */
export async function parseMigrationSql(sql: string, where: string, startLine = 1): Promise<SqlStatement[]> {
  loaded ??= loadModule();
  await loaded;
  let result: Awaited<ReturnType<typeof parse>>;
  try {
    result = await parse(sql);
  } catch (e) {
    const details = (e as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const at = details?.cursorPosition;
    const line = at !== undefined && at >= 0 ? lineAt(sql, charIndexOfByte(sql, at), startLine) : null;
    throw new HubError('migration_failed', `${where}: ${(e as Error).message}${line !== null ? ` at line ${line}` : ''}`, { file: where, ...(line !== null ? { line } : {}) });
  }
  const bytes = Buffer.from(sql, 'utf8');
  const out: SqlStatement[] = [];
  for (const raw of result.stmts ?? []) {
    const node = Object.keys(raw.stmt ?? {})[0];
    if (!node) continue;
    const from = raw.stmt_location ?? 0;
    const to = raw.stmt_len ? from + raw.stmt_len : bytes.length;
    const text = bytes.subarray(from, to).toString('utf8');
    const tokens = scanSync(text).tokens.filter((t) => !/COMMENT/.test(t.tokenName));
    const first = tokens[0];
    const offset = charIndexOfByte(sql, from) + (first ? charIndexOfByte(text, first.start) : 0);
    const tree = (raw.stmt as unknown as Record<string, Record<string, unknown>>)[node]!;
    out.push({ node, tree, text, line: lineAt(sql, offset, startLine), keyword: keywordOf(node, tree, tokens.map((t) => t.text.toUpperCase())) });
  }
  for (const s of out) {
    if (s.node === 'TransactionStmt') {
      throw new HubError('migration_failed', `${where}: ${s.keyword} at line ${s.line}; remove transaction statements`, { file: where, line: s.line });
    }
    if (isRoleChange(s)) {
      throw new HubError('migration_failed', `${where}: ${s.keyword} at line ${s.line}; migrations run as the module's own role, remove role changes`, { file: where, line: s.line });
    }
  }
  return out;
}

/**
 * The statements of a `-- migrate:no-transaction` file, each of which must be one PostgreSQL
 * runs only outside a transaction (CREATE/DROP INDEX CONCURRENTLY, REINDEX, VACUUM, ALTER TYPE
 * … ADD VALUE); anything else belongs in an ordinary file, where a failure rolls back.
 */
export function assertNoTransactionStatements(statements: SqlStatement[], where: string, prefix: string | null): void {
  for (const s of statements) {
    // Nothing here can be rolled back, so the prefix is checked on the parse tree before it runs.
    if (prefix !== null && s.node === 'IndexStmt') {
      const idx = s.tree.idxname as string | undefined;
      const rel = s.tree.relation as { relname?: string; schemaname?: string } | undefined;
      if ((idx !== undefined && !idx.startsWith(prefix)) || !rel?.relname?.startsWith(prefix) || (rel.schemaname ?? 'public') !== 'public') {
        throw new HubError('migration_prefix',
          `${where}: ${s.keyword} at line ${s.line} names ${idx === undefined ? '' : `index "${idx}" `}on "${rel?.relname ?? '?'}"; both must carry the prefix "${prefix}"`,
          { file: where, line: s.line });
      }
    }
    if (!NO_TRANSACTION_NODES.has(s.node)) {
      throw new HubError('migration_failed',
        `${where}: ${s.keyword} at line ${s.line} is not allowed in a "-- migrate:no-transaction" file; ` +
        'only CREATE/DROP INDEX CONCURRENTLY, REINDEX, VACUUM and ALTER TYPE … ADD VALUE run there, put the rest in an ordinary file',
        { file: where, line: s.line });
    }
  }
}

function isRoleChange(s: SqlStatement): boolean {
  if (ROLE_NODES.has(s.node)) return true;
  if (s.node === 'VariableSetStmt') {
    const name = String(s.tree.name ?? '');
    return ROLE_SETTINGS.has(name); // RESET ALL leaves role and session_authorization alone
  }
  return false;
}

function keywordOf(node: string, tree: Record<string, unknown>, words: string[]): string {
  if (node === 'VariableSetStmt') {
    const verb = String(tree.kind ?? '').startsWith('VAR_RESET') ? 'RESET' : 'SET';
    if (tree.name === 'role') return `${verb} ROLE`;
    if (tree.name === 'session_authorization') return `${verb} SESSION AUTHORIZATION`;
  }
  const [a = node, b] = words;
  if (node === 'TransactionStmt') {
    return a === 'START' || a === 'PREPARE' || b === 'PREPARED' || b === 'TRANSACTION' && a !== 'BEGIN' && a !== 'END' ? `${a} ${b ?? ''}`.trim() : a;
  }
  return b && /^[A-Z_]+$/.test(b) ? `${a} ${b}` : a;
}

/** PostgreSQL reports locations in bytes of the UTF-8 text; JavaScript strings count UTF-16 units. */
function charIndexOfByte(text: string, byteOffset: number): number {
  return Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}

function lineAt(text: string, charIndex: number, startLine: number): number {
  let n = startLine;
  for (let i = 0; i < charIndex && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Keys whose string value names the object a CREATE statement makes. */
const NAME_KEYS = new Set(['relname', 'idxname']);
/** Keys holding a qualified name as a list of String nodes (its last part is the name). */
const NAME_LISTS = new Set(['funcname', 'typeName', 'domainname', 'defnames']);

/**
 * The names a file's CREATE statements mention (relations, indexes, sequences, views, functions,
 * types): what the module's own SQL declares. Adoption hands a hand-made object to a module
 * only when its files name it (kernel/migration-adopt.ts).
 */
export function namesDeclared(statements: SqlStatement[]): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, key: string | null): void => {
    if (Array.isArray(v)) {
      if (key !== null && NAME_LISTS.has(key)) {
        const last = v[v.length - 1] as { String?: { sval?: string } } | undefined;
        if (typeof last?.String?.sval === 'string') out.add(last.String.sval);
      }
      for (const x of v) walk(x, null);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (NAME_KEYS.has(k) && typeof x === 'string') out.add(x);
        else if (k === 'names' && Array.isArray(x)) walk(x, 'typeName');
        else walk(x, k);
      }
    }
  };
  for (const s of statements) if (/^(Create|View|Index|CompositeType|Define)/.test(s.node)) walk(s.tree, null);
  return out;
}

