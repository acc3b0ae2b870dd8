// A tight HTTP probe over one keep-alive connection: how the benchmarks see "answering again".
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

export function getJson(url: string, timeoutMs = 2000): Promise<{ status: number; body: any }> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep null
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: null }));
    req.end();
  });
}

/** Polls until the URL answers 200 with a pid other than `oldPid`; returns the ms it took. */
export async function msUntilNewPid(url: string, oldPid: number, since: number, limitMs = 30_000): Promise<number> {
  for (;;) {
    const r = await getJson(url, 1000);
    if (r.status === 200 && r.body?.pid !== undefined && r.body.pid !== oldPid) return performance.now() - since;
    if (performance.now() - since > limitMs) throw new Error(`${url} did not come back within ${limitMs} ms`);
    if (r.status !== 200) await new Promise((res) => setTimeout(res, 1));
  }
}
