// Issue 14, item 1: the exact request bytes reach the module. A handler that reads the
// stream gets them; a parsed handler keeps req.body plus req.rawBody; a body over the
// module's body_limit gets a JSON 413.
import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;
const BIG = '{"big": 12345678901234567890}';

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'bodies', {
    manifest: { body_limit: '2kb' },
    router: `import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
export default (router) => {
  router.post('/stream', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.json({ text: Buffer.concat(chunks).toString('utf8') }));
  });
  router.post('/iterate', async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    res.json({ text: Buffer.concat(chunks).toString('utf8') });
  });
  router.post('/parsed', (req, res) => res.json({ body: req.body, raw: req.rawBody?.toString('utf8') ?? null }));
  router.post('/raw-hex', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.json({ hex: Buffer.concat(chunks).toString('hex'), parsed: req.body !== undefined }));
  });
  router.post('/signed', (req, res) => res.json({ hmac: createHmac('sha256', 'k').update(req.rawBody).digest('hex') }));
};`,
  });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

const post = (path: string, body: string | Buffer, type = 'application/json', headers: Record<string, string> = {}) =>
  k.get(`/api/v1/bodies${path}`, { method: 'POST', headers: { 'content-type': type, ...headers }, body, signal: AbortSignal.timeout(5000) });

describe('request bodies reach the module byte for byte', () => {
  it('a handler reading the stream of a JSON POST gets the exact bytes (no hang)', async () => {
    const res = await post('/stream', BIG);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).text).toBe(BIG);
  });

  it('for-await over the request works too', async () => {
    const res = await post('/iterate', BIG);
    expect(((await res.json()) as any).text).toBe(BIG);
  });

  it('a parsed handler keeps req.body and gets req.rawBody; the big integer is exact in rawBody', async () => {
    const res = await post('/parsed', BIG);
    const out = (await res.json()) as any;
    expect(out.raw).toBe(BIG);
    expect(/"big": (\d+)/.exec(out.raw)![1]).toBe('12345678901234567890');
    expect(typeof out.body.big).toBe('number');
  });

  it('form bodies are parsed and kept raw', async () => {
    const out = (await (await post('/parsed', 'a=1&b=%C3%A6', 'application/x-www-form-urlencoded')).json()) as any;
    expect(out.body).toEqual({ a: '1', b: 'æ' });
    expect(out.raw).toBe('a=1&b=%C3%A6');
  });

  it('an HMAC over rawBody matches the sender\'s, whitespace and key order included', async () => {
    const body = '{ "z":1,   "a" : [1, 2.50] }\n';
    const out = (await (await post('/signed', body)).json()) as any;
    expect(out.hmac).toBe(createHmac('sha256', 'k').update(body).digest('hex'));
  });

  it('a body over body_limit ("2kb") gets a JSON 413 naming the limit', async () => {
    const res = await post('/parsed', JSON.stringify({ pad: 'x'.repeat(3000) }));
    expect(res.status).toBe(413);
    const out = (await res.json()) as any;
    expect(out.error).toBe('payload_too_large');
    expect(out.message).toMatch(/body_limit of 2048 bytes/);
    // and a body just under the limit is fine
    const ok = await post('/parsed', JSON.stringify({ pad: 'x'.repeat(1500) }));
    expect(ok.status).toBe(200);
  });

  it('bad JSON is a 400 with the JSON error shape', async () => {
    const res = await post('/parsed', '{"a":');
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe('bad_request');
  });

  it('a gzip-encoded or UTF-16 JSON body is left to the handler: its stream gets the exact bytes, no 400', async () => {
    const gz = gzipSync(BIG);
    const a = await post('/raw-hex', gz, 'application/json', { 'content-encoding': 'gzip' });
    expect(a.status).toBe(200);
    expect(await a.json()).toEqual({ hex: gz.toString('hex'), parsed: false });
    const u16 = Buffer.from(BIG, 'utf16le');
    const b = await post('/raw-hex', u16, 'application/json; charset=utf-16le');
    expect(b.status).toBe(200);
    expect(await b.json()).toEqual({ hex: u16.toString('hex'), parsed: false });
    // and a quoted UTF-8 charset is still parsed
    const c = await post('/parsed', BIG, 'application/json; charset="UTF-8"');
    expect(((await c.json()) as any).raw).toBe(BIG);
  });
});
