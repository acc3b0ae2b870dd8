// GET /api/v1/modules/:name/logs: the recent lines as NDJSON, and with follow=1 the new
// ones as they come (NDJSON, or server-sent events for Accept: text/event-stream).
import type { Request, Response } from 'express';
import { HubError } from '../shared/errors.js';
import { MAX_TAIL_LINES, type LogEntry, type LogHub } from './logs.js';

function parseLines(raw: unknown): number {
  if (raw === undefined || raw === '') return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new HubError('bad_request', `lines must be a whole number from 0 to ${MAX_TAIL_LINES}, got ${JSON.stringify(String(raw)).slice(0, 40)}`);
  return Math.min(n, MAX_TAIL_LINES);
}

export function streamLogs(logs: LogHub, name: string, req: Request, res: Response): void {
  const lines = parseLines(req.query.lines);
  const follow = ['1', 'true', 'yes'].includes(String(req.query.follow ?? ''));
  const sse = (req.headers.accept ?? '').includes('text/event-stream');
  const write = sse
    ? (e: LogEntry) => res.write(`data: ${JSON.stringify(e)}\n\n`)
    : (e: LogEntry) => res.write(JSON.stringify(e) + '\n');

  res.status(200);
  res.setHeader('content-type', sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
  res.setHeader('cache-control', 'no-cache');
  if (!follow) {
    for (const e of logs.recent(name, lines)) write(e);
    res.end();
    return;
  }
  res.setHeader('x-accel-buffering', 'no');
  res.flushHeaders();
  // recent() and follow() are synchronous, so no line can fall between the backlog and the live tail
  for (const e of logs.recent(name, lines)) write(e);
  const unfollow = logs.follow(name, write);
  // SSE comments keep proxies from closing a quiet stream; NDJSON readers skip blank lines
  const keepAlive = setInterval(() => res.write(sse ? ': keep-alive\n\n' : '\n'), 15_000);
  // res 'close' is the connection ending; req 'close' fires once the (empty) body is read
  res.on('close', () => {
    clearInterval(keepAlive);
    unfollow();
  });
}
