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
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { HubError } from '../shared/errors.js';
import { PARSE_WORKER_SOURCE } from './migration-sql-worker.js';

/** One top-level statement of a file, with its text and 1-based file line. */
export interface SqlStatement {
  /** The parse tree's node name, e.g. `CreateStmt`, `IndexStmt`. */
  node: string;
  /** The few fields of the parse tree the checks read: SET's `name`/`kind`, CREATE INDEX's `idxname`/`relation`. */
  tree: Record<string, unknown>;
  /** The names a CREATE-like statement declares (relations, indexes, functions, types). */
  declared: string[];
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

/** The parser thread's heap limit: a file whose parse needs more fails its own module. */
export const PARSE_HEAP_MB = 512;
/** How long one file may take to parse. */
export const PARSE_TIME_MS = 60_000;

interface WorkerStatement { node: string; from: number; to: number; lines: number; words: string[]; tree: Record<string, unknown>; declared: string[] }
type WorkerAnswer = { stmts: WorkerStatement[] } | { error: { message: string; cursor: number | null } };

let parser: Worker | null = null;
let queue: Promise<unknown> = Promise.resolve();

function parserThread(): Worker {
  if (parser) return parser;
  const lib = createRequire(import.meta.url).resolve('libpg-query');
  const w = new Worker(PARSE_WORKER_SOURCE, {
    eval: true, workerData: { lib }, resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB, maxYoungGenerationSizeMb: 32 },
  });
  w.unref();
  w.on('exit', () => { if (parser === w) parser = null; });
  parser = w;
  return w;
}

/** One file's SQL through the parser thread; files queue, one at a time. */
function parseOffThread(sql: string, where: string): Promise<WorkerAnswer> {
  const run = (): Promise<WorkerAnswer> => new Promise((resolve, reject) => {
    const w = parserThread();
    const done = (): void => { clearTimeout(timer); w.off('message', onMessage); w.off('error', onError); w.off('exit', onExit); };
    const fail = (why: string): void => { done(); parser = null; void w.terminate(); reject(new HubError('migration_failed', `${where}: ${why}; split it into smaller files`, { file: where })); };
    const onMessage = (m: WorkerAnswer): void => { done(); resolve(m); };
    const onError = (e: Error & { code?: string }): void => fail(e.code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? `PostgreSQL's parser needs more than ${PARSE_HEAP_MB} MB for this file` : `PostgreSQL's parser failed on this file (${e.message})`);
    const onExit = (): void => fail("PostgreSQL's parser stopped on this file");
    const timer = setTimeout(() => fail(`PostgreSQL's parser took over ${PARSE_TIME_MS / 1000} s on this file`), PARSE_TIME_MS);
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.postMessage(sql);
  });
  const p = queue.then(run, run);
  queue = p.catch(() => undefined);
  return p;
}

/**
 * Parses `sql` (one file's up or down part) into statements. `where` is the file as named in
 * errors (`<module>/migrations/<file>`), `startLine` the file line where `sql` begins.
 * PostgreSQL's parser runs in a thread of its own with a heap and a time limit (see
 * migration-sql-worker.ts), never on the kernel's thread.
 * Throws HubError `migration_failed`:
 *   `<where>: syntax error at or near "X" at line N` when PostgreSQL could not parse it;
 *   `<where>: END at line N; remove transaction statements` for transaction control;
 *   `<where>: SET ROLE at line N; migrations run as the module's own role, remove role changes`;
 *   `<where>: PostgreSQL's parser needs more than 512 MB for this file; split it into smaller files`.
 */
export async function parseMigrationSql(sql: string, where: string, startLine = 1): Promise<SqlStatement[]> {
  const answer = await parseOffThread(sql, where);
  if ('error' in answer) {
    const at = answer.error.cursor;
    const line = at !== null && at >= 0 ? lineAt(sql, charIndexOfByte(sql, at), startLine) : null;
    throw new HubError('migration_failed', `${where}: ${answer.error.message}${line !== null ? ` at line ${line}` : ''}`, { file: where, ...(line !== null ? { line } : {}) });
  }
  const bytes = Buffer.from(sql, 'utf8');
  const out: SqlStatement[] = [];
  for (const w of answer.stmts) {
    const text = bytes.subarray(w.from, w.to).toString('utf8');
    out.push({ node: w.node, tree: w.tree, text, line: startLine + w.lines, keyword: keywordOf(w.node, w.tree, w.words), declared: w.declared });
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

/**
 * The names a file's CREATE statements mention (relations, indexes, sequences, views, functions,
 * types): what the module's own SQL declares. Adoption hands a hand-made object to a module
 * only when its files name it (kernel/migration-adopt.ts).
 */
export function namesDeclared(statements: SqlStatement[]): Set<string> {
  const out = new Set<string>();
  for (const s of statements) for (const n of s.declared) out.add(n);
  return out;
}
