// A loopback port that was free a moment ago: for processes a test starts on a port of its
// choosing, and for "nothing listens here" cases (fetch refuses bad ports such as 1).
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
