// GET /api/v1/modules/:name/logs: the recent lines as NDJSON, and with follow=1 the new
// ones as they come (NDJSON, or server-sent events for Accept: text/event-stream).
import type { Request, Response } from 'express';
import type { LogEntry, LogHub } from './logs.js';

export function streamLogs(logs: LogHub, name: string, req: Request, res: Response): void {
  const lines = Math.min(Math.max(Number.parseInt(String(req.query.lines ?? '100'), 10) || 100, 0), 10_000);
  const follow = ['1', 'true', 'yes'].includes(String(req.query.follow ?? ''));
  const sse = (req.headers.accept ?? '').includes('text/event-stream');
  const write = sse
    ? (e: LogEntry) => res.write(`data: ${JSON.stringify(e)}\n\n`)
    : (e: LogEntry) => res.write(JSON.stringify(e) + '\n');

  res.status(200);
  res.setHeader('content-type', sse ? 'text/event-stream' : 'application/x-ndjson');
  res.setHeader('cache-control', 'no-cache');
  if (follow) res.setHeader('x-accel-buffering', 'no');
  for (const e of logs.recent(name, lines)) write(e);
  if (!follow) {
    res.end();
    return;
  }
  res.flushHeaders();
  const unfollow = logs.follow(name, write);
  // SSE comments keep proxies from closing a quiet stream
  const keepAlive = setInterval(() => res.write(sse ? ': keep-alive\n\n' : ''), 15_000);
  req.on('close', () => {
    clearInterval(keepAlive);
    unfollow();
  });
}
