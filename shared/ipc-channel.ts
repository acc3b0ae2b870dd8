// The kernel↔child channel: NDJSON frames over an extra stdio pipe (fd 3), in place of
// Node's built-in 'ipc' channel, which buffers a whole message of any size before it is
// delivered (a 150 MB message cost the kernel 1.8 GB and second-long stalls; issue 11,
// item 8). Here the reader holds at most `maxBytes` of an unfinished frame: a longer one
// is reported (the kernel kills the child) and never parsed. The typed messages are still
// those of shared/ipc.ts.
import type { Duplex } from 'node:stream';

/** The child's file descriptor for the channel. */
export const IPC_FD = 3;

/** Largest frame a child may send, in bytes, unless the kernel's config says otherwise (HUB_IPC_MAX_BYTES, read in kernel/config.ts). */
export const DEFAULT_IPC_MAX_BYTES = 1024 * 1024;

export interface ChannelHandlers {
  /** One parsed frame (any JSON value: the caller checks its shape). */
  onMessage(msg: unknown): void;
  /** A frame grew past maxBytes; nothing more is read from the channel. */
  onOversize?(bytes: number): void;
  /** The other side closed the channel (or it failed). */
  onClose?(): void;
}

/** One end of a channel: whole JSON frames in, whole JSON frames out. */
export class IpcChannel<Out> {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private broken = false;
  private closed = false;

  constructor(private readonly stream: Duplex, private readonly maxBytes: number, private readonly handlers: ChannelHandlers) {
    stream.on('data', (chunk: Buffer) => this.feed(chunk));
    const close = () => {
      if (this.closed) return;
      this.closed = true;
      this.handlers.onClose?.();
    };
    stream.on('end', close);
    stream.on('close', close);
    stream.on('error', close);
  }

  get connected(): boolean {
    return !this.closed && !this.stream.destroyed && this.stream.writable;
  }

  /** Sends one message; `done` runs once it is handed to the OS (or the channel is gone). */
  send(msg: Out, done?: () => void): void {
    if (!this.connected) {
      done?.();
      return;
    }
    this.stream.write(JSON.stringify(msg) + '\n', () => done?.());
  }

  close(): void {
    this.stream.destroy();
  }

  private feed(chunk: Buffer): void {
    if (this.broken) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.heldBytes + (end - start) > this.maxBytes) {
        this.broken = true;
        const bytes = this.heldBytes + (end - start);
        this.held = [];
        this.heldBytes = 0;
        this.stream.pause();
        this.handlers.onOversize?.(bytes);
        return;
      }
      if (nl === -1) {
        if (end > start) {
          this.held.push(Buffer.from(chunk.subarray(start)));
          this.heldBytes += end - start;
        }
        return;
      }
      const frame = this.heldBytes > 0 ? Buffer.concat([...this.held, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
      this.held = [];
      this.heldBytes = 0;
      start = nl + 1;
      let msg: unknown;
      try {
        msg = JSON.parse(frame.toString('utf8'));
      } catch {
        continue; // not a frame of ours: ignored like any unknown message
      }
      this.handlers.onMessage(msg);
    }
  }
}
