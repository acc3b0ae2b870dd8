// Issue 14, item 9 through other doors: /health says `degraded`, with why, whenever the
// database does not answer, not only when the embedded postmaster exits. Here a DATABASE_URL
// server behind a TCP relay this test controls: first it hangs (accepts, never answers: a
// SIGSTOPped server, a frozen host), then it refuses connections (down); each time /health
// turns degraded within seconds and ok again once the server answers.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let tdb: TestDatabase;
let k: RunningKernel;
let relay: Server | undefined;
let relayPort = 0;
const pairs = new Set<[Socket, Socket]>();
let frozen = false;

/** A relay to the test server on `port` (0: any); `frozen` makes it hold every byte. */
function startRelay(port: number, target: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      const end = () => { client.destroy(); upstream.destroy(); pairs.delete(pair); };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.on('data', (d) => { if (!frozen) upstream.write(d); });
      upstream.on('data', (d) => { if (!frozen) client.write(d); });
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      relay = server;
      resolve((server.address() as { port: number }).port);
    });
  });
}

function stopRelay(): Promise<void> {
  for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
  pairs.clear();
  return new Promise((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  const target = new URL(tdb.url);
  relayPort = await startRelay(0, target);
  const viaRelay = new URL(tdb.url);
  viaRelay.hostname = '127.0.0.1';
  viaRelay.port = String(relayPort);
  k = await startKernel({ modulesDir: tempDir('modules'), databaseUrl: viaRelay.toString() });
}, 60_000);

afterAll(async () => {
  frozen = false;
  await stopAllKernels();
  await stopRelay();
  await tdb?.drop();
});

const health = async () => (await k.get('/health', { signal: AbortSignal.timeout(3000) }).then((r) => r.json())) as any;

describe('/health follows the database, whatever stops it answering', () => {
  it('a server that hangs (accepts, never answers): degraded with the reason within seconds, ok once it answers', async () => {
    expect((await health()).status).toBe('ok');
    frozen = true;
    const t0 = Date.now();
    const down = await waitFor(async () => { const h = await health(); return h.status === 'degraded' ? h : undefined; }, { timeoutMs: 15_000, what: '/health degraded while the server hangs' });
    console.log(`hung database reported ${Date.now() - t0} ms after it stopped answering`);
    expect(down.database.up).toBe(false);
    expect(down.database.reason).toMatch(new RegExp(`the database at 127\\.0\\.0\\.1:${relayPort} does not answer \\(no answer to SELECT 1 within \\d+ ms\\)`));
    expect(Date.now() - t0).toBeLessThan(10_000);
    frozen = false;
    await waitFor(async () => ((await health()).status === 'ok' ? true : undefined), { timeoutMs: 15_000, what: '/health ok again' });
    expect(k.lines.join('\n')).toMatch(/database: answering again after \d+ ms/);
  });

  it('a server that is down (connection refused): degraded with the reason, ok once it is back on its port', async () => {
    await stopRelay();
    const down = await waitFor(async () => { const h = await health(); return h.status === 'degraded' ? h : undefined; }, { timeoutMs: 15_000, what: '/health degraded while the server is down' });
    expect(down.database.reason).toMatch(/does not answer \(connection refused\) since \d{4}-/);
    await startRelay(relayPort, new URL(tdb.url));
    await waitFor(async () => ((await health()).status === 'ok' ? true : undefined), { timeoutMs: 15_000, what: '/health ok again' });
  });
});
