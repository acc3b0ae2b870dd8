// A spinner on stderr while the hub works (enable migrates and starts, restart waits for the
// new child). Only on a terminal: in a pipe or a CI log it would be noise.
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  stop(): void;
}

export function spin(text: string, stream: NodeJS.WriteStream = process.stderr): Spinner {
  if (!stream.isTTY || process.env.CI) return { stop: () => undefined };
  let i = 0;
  const started = Date.now();
  const draw = () => {
    const secs = Math.floor((Date.now() - started) / 1000);
    stream.write(`\r\x1b[K${FRAMES[i++ % FRAMES.length]} ${text}${secs >= 2 ? ` (${secs}s)` : ''}`);
  };
  draw();
  const timer = setInterval(draw, 80);
  return {
    stop() {
      clearInterval(timer);
      stream.write('\r\x1b[K');
    },
  };
}

/** Runs `work` with a spinner showing, and always clears the spinner line. */
export async function withSpinner<T>(text: string, work: () => Promise<T>): Promise<T> {
  const s = spin(text);
  try {
    return await work();
  } finally {
    s.stop();
  }
}
