// The floor the gateway is judged against (issue 17): the least a Node reverse proxy can do —
// http.request + pipe over a keep-alive agent, headers copied as they are, plus the kernel
// secret so the child answers exactly as it answers the gateway. Run as its own process by
// bench/gateway-floor.ts so its CPU can be read from /proc like the kernel's.
// Usage: node dist/bench/bare-proxy.js <target port> <secret header> <secret>; prints
// {"port":N} on stdout once listening on 127.0.0.1.
import { Agent, createServer, request } from 'node:http';

const [targetPort, secretHeader, secret] = process.argv.slice(2);
if (!targetPort || !secretHeader || !secret) {
  console.error('usage: bare-proxy.js <target port> <secret header> <secret>');
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((req, res) => {
  const headers = { ...req.headers, [secretHeader]: secret };
  const upstream = request({ host: '127.0.0.1', port: Number(targetPort), method: req.method, path: req.url, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
});
// a clean exit on SIGTERM, so `node --cpu-prof` writes its profile
process.on('SIGTERM', () => process.exit(0));
