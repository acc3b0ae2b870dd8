// Small text helpers shared by the commands: colours that switch off for NO_COLOR and
// pipes (picocolors decides), durations, sizes, and padding that ignores colour codes.
import pc from 'picocolors';
import { toneOf } from '../shared/module-states.js';

export { pc };

/** A state in its tone's colour; the tones come from shared/module-states.ts, as the dashboard's do. */
export function stateColour(state: string): string {
  switch (toneOf(state)) {
    case 'ok':
      return pc.green(state);
    case 'busy':
    case 'warn':
      return pc.yellow(state);
    case 'bad':
      return pc.red(pc.bold(state));
    default:
      return pc.dim(state);
  }
}

export function duration(ms: number): string {
  if (!ms || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  if (n < 1024 * 1024 * 1024) return `${Math.round(n / (1024 * 1024))} MB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(1)} GB`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

export function visibleLength(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/** Left-aligned columns, two spaces apart; widths from the visible text, not the colour codes. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ').trimEnd();
  return [line(header.map((h) => pc.bold(h))), ...rows.map(line)].join('\n');
}
