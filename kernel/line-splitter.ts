// Splits a child's stdout/stderr into lines without ever holding a whole line: a module
// that writes one 10 MB line (or a gigabyte with no newline at all) costs the kernel at
// most `maxBytes` of buffer. Longer lines are cut and marked, never split into several
// entries, so one hostile write cannot flood the ring either (issue 11, item 8).
import type { Readable } from 'node:stream';

/** Longest line kept whole, in bytes, unless the config says otherwise (HUB_LOG_LINE_BYTES, read in kernel/config.ts). */
export const DEFAULT_LINE_BYTES = 16 * 1024;

/**
 * Calls `onLine` once per line read from `input` (the newline removed, a trailing "\r" too).
 * A line longer than `maxBytes` is delivered as its first `maxBytes` bytes followed by
 * ` … [truncated N bytes]`, once its newline (or the end of the stream) arrives.
 */
export function splitLines(input: Readable, maxBytes: number, onLine: (line: string) => void): void {
  const held: Buffer[] = [];
  let heldBytes = 0;
  let dropped = 0;

  const finish = () => {
    let line = Buffer.concat(held, heldBytes).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (dropped > 0) line = `${line.replace(/\uFFFD$/, '')} … [truncated ${dropped} bytes]`;
    held.length = 0;
    heldBytes = 0;
    dropped = 0;
    onLine(line);
  };
  const keep = (part: Buffer) => {
    const room = maxBytes - heldBytes;
    if (part.length <= room) {
      if (part.length > 0) held.push(Buffer.from(part)); // a copy: never pin the stream's 64 KB chunk
      heldBytes += part.length;
    } else {
      if (room > 0) held.push(Buffer.from(part.subarray(0, room)));
      heldBytes += Math.max(0, room);
      dropped += part.length - Math.max(0, room);
    }
  };

  input.on('data', (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        keep(chunk.subarray(start));
        return;
      }
      keep(chunk.subarray(start, nl));
      finish();
      start = nl + 1;
    }
  });
  input.on('end', () => {
    if (heldBytes > 0 || dropped > 0) finish();
  });
}
