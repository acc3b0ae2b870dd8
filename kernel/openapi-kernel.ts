// The kernel's own HTTP surface as OpenAPI paths, so /api/docs documents (and Swagger UI
// can try) the admin API next to the modules' routes.
const KERNEL_TAG = 'Hub kernel';

const name = { name: 'name', in: 'path', required: true, description: 'module name', schema: { type: 'string', pattern: '^[a-z][a-z0-9_]{1,39}$' } };
const error = { description: 'error: {"error": code, "message": text}' };
const record = { description: 'the module record' };

const mutation = (summary: string, extra: Record<string, unknown> = {}) => ({
  tags: [KERNEL_TAG],
  summary,
  operationId: `hub__${summary.split(' ')[0]!.toLowerCase()}`,
  parameters: [name],
  security: [{ adminToken: [] }],
  responses: { '200': record, '401': error, '403': error, '404': error, '409': error, ...extra },
});

export const kernelTag = { name: KERNEL_TAG, description: 'The hub itself: health, module records and the admin API.' };

export const kernelSecuritySchemes = {
  adminToken: { type: 'http', scheme: 'bearer', description: 'The admin credential: HUB_ADMIN_TOKEN, or the contents of HUB_DATA_DIR/admin-token. Only the hub\'s own operations below use it; module operations never do.' },
};

export const kernelPaths: Record<string, Record<string, Record<string, unknown>>> = {
  '/health': { get: { tags: [KERNEL_TAG], summary: 'Hub health and every module state', operationId: 'hub__health', responses: { '200': { description: '{"status": "ok" | "degraded", "modules": {name: state}}' } } } },
  '/health/ready': { get: { tags: [KERNEL_TAG], summary: 'Ready once the enabled modules have had their first start', operationId: 'hub__ready', responses: { '200': { description: 'ready' }, '503': { description: 'still starting' } } } },
  '/api/v1/modules': { get: { tags: [KERNEL_TAG], summary: 'All module records', operationId: 'hub__modules', responses: { '200': { description: 'array of module records' } } } },
  '/api/v1/modules/{name}': { get: { tags: [KERNEL_TAG], summary: 'One module record', operationId: 'hub__module', parameters: [name], responses: { '200': record, '404': error } } },
  '/api/v1/modules/{name}/enable': { post: mutation('Enable a module and what it depends on; answers once it runs or failed', { '500': error }) },
  '/api/v1/modules/{name}/disable': { post: mutation('Disable (drain and stop) a module') },
  '/api/v1/modules/{name}/restart': { post: mutation('Restart with no downtime', { '500': error }) },
  '/api/v1/modules/{name}/logs': {
    get: {
      tags: [KERNEL_TAG],
      summary: "A module's recent log lines (NDJSON; follow=1 streams, SSE with Accept: text/event-stream)",
      operationId: 'hub__logs',
      parameters: [
        name,
        { name: 'lines', in: 'query', schema: { type: 'integer', default: 100, maximum: 10000 } },
        { name: 'follow', in: 'query', schema: { type: 'string', enum: ['0', '1'] } },
      ],
      security: [{ adminToken: [] }],
      responses: { '200': { description: 'log entries' }, '401': error, '404': error },
    },
  },
  // the chart history (kernel/history-api.ts), admin origin only
  '/api/v1/history': { get: historyOp('history_all', 'Every module\'s chart history (admin origin): {window, now, modules: {name: history}}', false) },
  '/api/v1/modules/{name}/history': { get: historyOp('history', "A module's chart history (admin origin): points {t, req_per_s, err_per_s, p50_ms, p95_ms, cpu_percent, rss_bytes} as columns, events {t, kind}", true) },
  // identity (DESIGN.md "Identity and permissions"): sign-in on the public origin ...
  ...identityPaths(),
};

/** GET …/history: window, since, last (kernel/history-api.ts). */
function historyOp(id: string, summary: string, perModule: boolean): Record<string, unknown> {
  return {
    tags: [KERNEL_TAG],
    summary,
    operationId: `hub__${id}`,
    parameters: [
      ...(perModule ? [name] : []),
      { name: 'window', in: 'query', schema: { type: 'string', enum: ['1h', '24h'], default: '1h' } },
      { name: 'since', in: 'query', description: 'only points newer than this time (ms since the epoch)', schema: { type: 'integer' } },
      { name: 'last', in: 'query', description: 'only the last N points', schema: { type: 'integer', minimum: 1 } },
    ],
    security: [{ adminToken: [] }],
    responses: { '200': { description: 'history' }, '400': error, '401': error, ...(perModule ? { '404': error } : {}) },
  };
}

/** Sign-in, tokens, users, grants and audit (kernel/auth-routes.ts, kernel/identity-admin-api.ts). */
function identityPaths(): Record<string, Record<string, Record<string, unknown>>> {
  const op = (id: string, summary: string, extra: Record<string, unknown> = {}) => {
    const { responses, ...rest } = extra;
    return { tags: [KERNEL_TAG], summary, operationId: `hub__${id}`, ...rest, responses: { '200': { description: 'ok' }, '400': error, '401': error, ...(responses as object | undefined) } };
  };
  const json = (properties: Record<string, unknown>, required: string[]) => ({ requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required, properties } } } } });
  const username = { name: 'username', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{1,39}$' } };
  const admin = { security: [{ adminToken: [] }] };
  return {
    '/api/v1/auth/login': { post: op('login', 'Sign in (public origin): sets the session cookie (HttpOnly, SameSite=Lax); 429 after repeated failures', { ...json({ username: { type: 'string' }, password: { type: 'string' } }, ['username', 'password']), responses: { '429': error } }) },
    '/api/v1/auth/logout': { post: op('logout', 'Sign out (public origin): ends the session on every kernel') },
    '/api/v1/auth/me': { get: op('me', 'Who is signed in (public origin): {id, username, grants, via}') },
    '/api/v1/auth/tokens': {
      get: op('tokens', "The signed-in user's API tokens, never the token itself (public origin)"),
      post: op('token_create', 'A personal API token (bmc_pat_…), answered once (public origin); from a browser session send your password too; a token cannot create tokens', json({ name: { type: 'string' }, expires_in_days: { type: 'integer', minimum: 1, maximum: 366, default: 30 }, password: { type: 'string', description: 'required when a browser signed in by the session cookie sends the request' } }, ['name'])),
    },
    '/api/v1/auth/tokens/{id}': { delete: op('token_revoke', 'Revoke one of your tokens (public origin)', { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }], responses: { '404': error } }) },
    '/api/v1/users': {
      get: op('users', 'Every user with grants', admin),
      post: op('user_create', 'Create a user', { ...admin, ...json({ username: { type: 'string' }, password: { type: 'string', minLength: 10 }, grants: { type: 'array', items: { type: 'string' } } }, ['username', 'password']), responses: { '409': error } }),
    },
    '/api/v1/users/{username}/grants': { post: op('grant', 'Grant <module>.<role>, <module>.<perm> or hub.admin', { ...admin, parameters: [username], ...json({ grant: { type: 'string' } }, ['grant']), responses: { '404': error } }) },
    '/api/v1/users/{username}/grants/{grant}': { delete: op('revoke', 'Revoke a grant; effective on every kernel within a second', { ...admin, parameters: [username, { name: 'grant', in: 'path', required: true, schema: { type: 'string' } }], responses: { '404': error } }) },
    '/api/v1/audit': { get: op('audit', 'Admin actions and refused requests, newest first', { ...admin, parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', default: 100, maximum: 1000 } }] }) },
    // kernel/notices-page.ts: the notices ring (README "Notices")
    '/api/v1/notices': { get: op('notices', 'Recent module crashes, failures, recoveries and enable/disable with who, newest first, plus delivery counts per HUB_NOTIFY_URL receiver (admin origin)', { ...admin, parameters: [{ name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 }, description: 'only notices with a higher id' }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 200 } }] }) },
  };
}

/**
 * The kernel's paths as the public origin shows them: the same operations, but no security
 * requirement, so Swagger UI there offers no "Authorize" box. A token typed into a page on
 * the public origin would sit in the memory of an origin that module pages share (one can
 * open the docs in a window and read it); admin operations are tried on the admin origin's
 * copy of /api/docs instead.
 */
export function publicKernelPaths(): Record<string, Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [path, item] of Object.entries(kernelPaths)) {
    out[path] = {};
    for (const [method, op] of Object.entries(item)) {
      if (!op.security) {
        out[path][method] = op;
        continue;
      }
      const { security: _security, ...rest } = op;
      const note = 'Needs `Authorization: Bearer <admin token>`; try it from /api/docs on the admin origin (HUB_ADMIN_PORT).';
      out[path][method] = { ...rest, description: note, security: [] };
    }
  }
  return out;
}
