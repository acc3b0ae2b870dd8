// Red team (issue 17): the request's framing headers on the kernel → child leg. A header a
// client names in `Connection` is dropped on the way (hop-by-hop, RFC 9110 §7.6.1); if that
// could drop Content-Length or Transfer-Encoding, the body would reach the child's pooled
// keep-alive socket unframed and be parsed as a second request (smuggling), desyncing the
// answers every later client gets from that socket.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/http.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

// every answer names the path it answers and the body length it read
const echoRouter = `export default (router) => {
  router.all('/echo/:n', (req, res) => {
    let n = 0;
    req.on('data', (d) => (n += d.length));
    req.on('end', () => res.json({ n: req.params.n, body: n }));
  });
  router.get('/headers', (req, res) => res.json(req.headers));
  // a status line node's client parses but node's server will not write
  router.get('/raw/:kind', (req, res) => {
    const line = { status: 'HTTP/1.1 099 X', reason: 'HTTP/1.1 200 O\\x01K' }[req.params.kind];
    req.socket.end(line + '\\r\\nContent-Length: 2\\r\\n\\r\\nok');
  });
  // nameless cookies: a browser sends "=hub_session=x" back as "hub_session=x"
  router.get('/nameless-cookie', (req, res) => {
    res.setHeader('set-cookie', ['=hub_session=fixed; Path=/', ' =hub_admin_session=fixed', '==hub_oidc_flow=x', '=theme=dark']);
    res.json({ ok: true });
  });
};`;

let k: RunningKernel;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'echo', { router: echoRouter });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

/** Writes `raw` on one connection to the kernel and returns everything read until it closes. */
function rawExchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(raw));
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('a client naming framing headers in Connection', () => {
  for (const [framing, header, body] of [
    ['content-length', (n: number) => `Content-Length: ${n}\r\n`, (b: string) => b],
    ['transfer-encoding', () => 'Transfer-Encoding: chunked\r\n', (b: string) => `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
  ] as const) {
    it(`cannot strip ${framing} to smuggle a request to the child; later answers stay in step`, async () => {
      const smuggled = `GET /api/v1/echo/echo/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      const head = `GET /api/v1/echo/echo/first HTTP/1.1\r\nHost: 127.0.0.1:${k.port}\r\n${header(smuggled.length)}Connection: close, ${framing}\r\n\r\n`;
      const first = await rawExchange(k.port, head + body(smuggled));
      expect(first).toMatch(/^HTTP\/1\.1 200/);
      expect(first).toContain(`{"n":"first","body":${smuggled.length}}`);
      // the same pooled sockets now serve other clients: each gets its own answer
      for (let i = 0; i < 20; i++) {
        const res = await k.get(`/api/v1/echo/echo/after${i}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ n: `after${i}`, body: 0 });
      }
    });
  }
});

describe('a client naming kernel-set headers in Connection', () => {
  it('cannot remove the request id, Host or the kernel secret the module relies on', async () => {
    const res = await rawRequest({ port: k.port, path: '/api/v1/echo/headers', headers: { connection: 'keep-alive, x-request-id, host, x-hub-secret, x-forwarded-for', 'x-request-id': 'rid-1' } });
    expect(res.status).toBe(200);
    const seen = res.body as Record<string, string>;
    expect(seen['x-request-id']).toBe('rid-1');
    expect(seen.host).toBe(`127.0.0.1:${k.port}`);
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-hub-secret']).toBeUndefined(); // still never shown to module code
  });
});

describe('a module setting a nameless cookie whose value looks like a hub cookie', () => {
  it('has it dropped; a nameless cookie of its own passes', async () => {
    const res = await k.get('/api/v1/echo/nameless-cookie');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(['=theme=dark']);
  });
});

describe('a module answering with a status line the kernel cannot repeat', () => {
  for (const kind of ['status', 'reason']) {
    it(`(${kind}) gets its client a 502; the kernel keeps serving`, async () => {
      const res = await k.get(`/api/v1/echo/raw/${kind}`);
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ error: 'module_unreachable' });
      const after = await k.get('/api/v1/echo/echo/still');
      expect(after.status).toBe(200);
    });
  }
});
