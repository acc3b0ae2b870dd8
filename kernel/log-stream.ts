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

/** Bytes a following reader may have waiting in its socket before new lines are skipped for it. */
export const FOLLOW_PENDING_BYTES = 1024 * 1024;

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
  // a reader that does not keep up (hubctl logs -f into a paused pager) must not make the
  // kernel hold what a flooding module writes: past FOLLOW_PENDING_BYTES waiting in the
  // socket, lines are counted instead of queued, and the reader is told how many it missed
  let missed = 0;
  const tellMissed = () => {
    if (missed === 0) return;
    write({ time: new Date().toISOString(), level: 40, module: name, pid: process.pid, source: 'kernel', msg: `… ${missed} lines not sent here: this reader fell behind (all are in the log file)` });
    missed = 0;
  };
  res.on('drain', tellMissed);
  const unfollow = logs.follow(name, (e) => {
    if (res.writableLength > FOLLOW_PENDING_BYTES) {
      missed++;
      return;
    }
    tellMissed();
    write(e);
  });
  // SSE comments keep proxies from closing a quiet stream; NDJSON readers skip blank lines
  const keepAlive = setInterval(() => res.write(sse ? ': keep-alive\n\n' : '\n'), 15_000);
  // res 'close' is the connection ending; req 'close' fires once the (empty) body is read
  res.on('close', () => {
    clearInterval(keepAlive);
    unfollow();
  });
}
