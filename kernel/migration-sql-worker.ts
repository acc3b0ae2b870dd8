// The SQL parser's thread. libpg-query is PostgreSQL's grammar in WebAssembly and runs
// synchronously: on the kernel's own thread a 12 MB migration held every module's requests for
// 6 s and took 700 MB, and a larger one would end the kernel. Here it runs in a worker thread
// with a heap limit and a time limit (migration-sql.ts), so a migration too big or too slow to
// parse fails its own module with one line and the kernel goes on serving.
//
// The worker sends back what the kernel needs of each statement and no more: node name, byte
// range, its first line, first two words, the names a CREATE-like statement declares, and the few tree fields
// the checks read (SET's name and kind, CREATE INDEX's index and table). A parse tree can be
// many times the size of its SQL; it never crosses to the kernel's heap.
//
// Plain JavaScript in a string (an eval worker), so the same code runs from the TypeScript
// sources under the tests and from dist/.
export const PARSE_WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const lib = require(workerData.lib);
const ready = lib.loadModule();
const NAME_KEYS = new Set(['relname', 'idxname']);
const NAME_LISTS = new Set(['funcname', 'typeName', 'domainname', 'defnames']);
function declared(tree) {
  const out = new Set();
  const walk = (v, key) => {
    if (Array.isArray(v)) {
      if (key !== null && NAME_LISTS.has(key)) {
        const last = v[v.length - 1];
        if (last && last.String && typeof last.String.sval === 'string') out.add(last.String.sval);
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
  walk(tree, null);
  return [...out];
}
function small(node, tree) {
  if (node === 'VariableSetStmt') return { name: tree.name, kind: tree.kind };
  if (node === 'IndexStmt') return { idxname: tree.idxname, relation: tree.relation ? { relname: tree.relation.relname, schemaname: tree.relation.schemaname } : undefined };
  return {};
}
parentPort.on('message', async (sql) => {
  await ready;
  let result;
  try {
    result = await lib.parse(sql);
  } catch (e) {
    const d = e && e.sqlDetails;
    parentPort.postMessage({ error: { message: String(e && e.message), cursor: d && typeof d.cursorPosition === 'number' ? d.cursorPosition : null } });
    return;
  }
  const bytes = Buffer.from(sql, 'utf8');
  // byte offsets of the newlines, once: a line is found by binary search, not by counting from
  // the start of the file for every statement (a file of many small statements was quadratic)
  const newlines = [];
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) newlines.push(i);
  const linesBefore = (at) => { let lo = 0, hi = newlines.length; while (lo < hi) { const mid = (lo + hi) >> 1; if (newlines[mid] < at) lo = mid + 1; else hi = mid; } return lo; };
  const stmts = [];
  for (const raw of result.stmts || []) {
    const node = Object.keys(raw.stmt || {})[0];
    if (!node) continue;
    const tree = raw.stmt[node];
    const from = raw.stmt_location || 0;
    const to = raw.stmt_len ? from + raw.stmt_len : bytes.length;
    const text = bytes.subarray(from, to).toString('utf8');
    const tokens = lib.scanSync(text).tokens.filter((t) => !/COMMENT/.test(t.tokenName));
    stmts.push({
      node, from, to, lines: linesBefore(from + (tokens[0] ? tokens[0].start : 0)),
      words: tokens.slice(0, 2).map((t) => t.text.toUpperCase()),
      tree: small(node, tree),
      declared: /^(Create|View|Index|CompositeType|Define)/.test(node) ? declared(tree) : [],
    });
  }
  parentPort.postMessage({ stmts });
});
`;
