// `hubctl top [--once] [--json] [--interval S]`: the dashboard's figures live in the terminal,
// like `pm2 monit`: per module its state, CPU %, memory (both from the kernel's /proc readings,
// the module records), and request rate, 5xx rate and p95 latency (the last point of the
// kernel's chart history, GET /api/v1/history). On a terminal the frame redraws in place on the
// alternate screen until Ctrl-C; `--once` prints one frame and exits (pipes, tests); `--json`
// prints one frame's figures as JSON. Everything shown comes through HubClient.json, which
// strips terminal control sequences from every string the hub sends.
import type { HubClient, ModuleRecord } from './client.js';
import { CliError, EXIT } from './errors.js';
import { bytes, pc, stateColour, table } from './format.js';
import { stripControls } from '../shared/terminal-safe.js';

/** One module's row: what `--json` prints and the table shows. Null: not measured. */
export interface TopRow {
  name: string;
  state: string;
  cpu_percent: number | null;
  memory_rss_bytes: number | null;
  req_per_s: number | null;
  err_per_s: number | null;
  p95_ms: number | null;
}

interface HistoryLast {
  modules: Record<string, { points: { t: number[]; req_per_s: (number | null)[]; err_per_s: (number | null)[]; p95_ms: (number | null)[] } } | null>;
}

/** --interval: seconds between frames, 0.5 to 3600. */
export function parseInterval(raw: string): number {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || n < 0.5 || n > 3600) {
    throw new CliError(`--interval wants seconds between 0.5 and 3600, got ${JSON.stringify(raw).slice(0, 40)}`, EXIT.usage);
  }
  return n;
}

/** The records and the last history point of every module, as rows (sorted by name, as the hub lists them). */
export async function topRows(client: HubClient): Promise<TopRow[]> {
  const [records, history] = await Promise.all([client.modules(), client.json<HistoryLast>('GET', '/api/v1/history?window=1h&last=1', 15_000)]);
  return records.map((r: ModuleRecord) => {
    const p = history.modules?.[r.name]?.points;
    const last = <T>(col: T[] | undefined): T | null => (col && col.length > 0 ? (col[col.length - 1] ?? null) : null);
    return {
      name: r.name,
      state: r.state,
      cpu_percent: r.cpu_percent ?? null,
      memory_rss_bytes: r.memory_rss_bytes,
      req_per_s: last(p?.req_per_s),
      err_per_s: last(p?.err_per_s),
      p95_ms: last(p?.p95_ms),
    };
  });
}

const num = (v: number | null, digits: number, unit = ''): string => (v === null || !Number.isFinite(v) ? '-' : `${v.toFixed(digits)}${unit}`);

/** One frame as text: a title line and the table; no cursor movement. */
export function renderTop(url: string, rows: TopRow[], at: Date = new Date()): string {
  const title = `${pc.bold('hubctl top')} · ${stripControls(url)} · ${at.toISOString().slice(11, 19)} UTC`;
  if (rows.length === 0) return `${title}\n\nno modules found`;
  const body = table(
    ['MODULE', 'STATE', 'CPU', 'MEMORY', 'REQ/S', 'ERR/S', 'P95'],
    rows.map((r) => [
      stripControls(r.name),
      stateColour(stripControls(r.state)),
      num(r.cpu_percent, 1, '%'),
      bytes(r.memory_rss_bytes),
      num(r.req_per_s, 1),
      r.err_per_s ? pc.red(num(r.err_per_s, 1)) : num(r.err_per_s, 1),
      num(r.p95_ms, 1, ' ms'),
    ]),
  );
  return `${title}\n\n${body}`;
}

// alternate screen, cursor home, clear to the end of the screen, hide and show the cursor
const ALT_ON = '\x1b[?1049h\x1b[?25l';
const ALT_OFF = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

export async function top(client: HubClient, opts: { once?: boolean; json?: boolean; interval: number }): Promise<void> {
  if (opts.json) {
    process.stdout.write(JSON.stringify(await topRows(client), null, 2) + '\n');
    return;
  }
  if (opts.once) {
    process.stdout.write(renderTop(client.baseUrl, await topRows(client)) + '\n');
    return;
  }
  const tty = process.stdout.isTTY === true;
  let stop = false;
  let wake: () => void = () => undefined;
  const quit = () => {
    stop = true;
    wake();
  };
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  if (tty) process.stdout.write(ALT_ON);
  try {
    while (!stop) {
      const frame = renderTop(client.baseUrl, await topRows(client)) + `\n\n${pc.dim(`every ${opts.interval} s · Ctrl-C to quit`)}`;
      if (tty) process.stdout.write(HOME + frame.split('\n').join(`${CLEAR_LINE_END}\n`) + CLEAR_LINE_END + CLEAR_BELOW);
      else process.stdout.write(frame + '\n\n');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, opts.interval * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    if (tty) process.stdout.write(ALT_OFF);
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
}
