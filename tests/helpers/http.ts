// A raw HTTP request: the path reaches the server exactly as written (fetch would normalise
// ../) and the Host header and target address can be chosen freely.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  /** Parsed JSON when the body is JSON, else the text. */
  body: any;
}

export function rawRequest(opts: { host?: string; port: number; path: string; method?: string; headers?: Record<string, string> }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: opts.host ?? '127.0.0.1', port: opts.port, path: opts.path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep it as text; the assertion will show it
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
