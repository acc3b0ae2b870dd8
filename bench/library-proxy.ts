// The design card's proxy library on its own (issue 17): http-proxy-middleware in a plain
// node http server, with the same keep-alive agent settings and the kernel secret, and
// nothing else — no guards, identity, metrics, request ids or timeouts. Its CPU per request
// beside the bare Node proxy's (bench/bare-proxy.ts) is what the library itself costs, which
// the gateway must pay since the card fixes the library; the gateway beside it is what the
// hub's own per-request work costs. Run as its own process by bench/gateway-floor.ts.
// Usage: node dist/bench/library-proxy.js <target port> <secret header> <secret>; prints
// {"port":N} on stdout once listening on 127.0.0.1.
import { Agent, createServer } from 'node:http';
import { createProxyMiddleware } from 'http-proxy-middleware';

const [targetPort, secretHeader, secret] = process.argv.slice(2);
if (!targetPort || !secretHeader || !secret) {
  console.error('usage: library-proxy.js <target port> <secret header> <secret>');
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 1000 });
const proxy = createProxyMiddleware({ target: `http://127.0.0.1:${targetPort}`, agent, headers: { [secretHeader]: secret }, logger: undefined });

const server = createServer((req, res) => {
  void proxy(req as never, res as never, () => {
    res.writeHead(404);
    res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
process.on('SIGTERM', () => process.exit(0));
