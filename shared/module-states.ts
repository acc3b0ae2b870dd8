// The module state vocabulary, defined once: the states, which of them count as "up" (a
// process or remote of ours is there), which take traffic, and how each is shown (tone and
// label). The kernel's state machine (kernel/module-state.ts), /health, the dashboard script
// and its CSS (served as JSON at /dashboard/states.json and as classes .tone-*), the CLI
// colours (cli/format.ts) and the docs all read it from here.
export const MODULE_STATES = ['disabled', 'starting', 'running', 'stopping', 'restarting', 'failed', 'unreachable'] as const;
export type ModuleState = (typeof MODULE_STATES)[number];

/** How a state is shown: ok (green), busy (on its way, blue), warn (amber), bad (red), off (grey). */
export type StateTone = 'ok' | 'busy' | 'warn' | 'bad' | 'off';

export interface StateInfo {
  /** Something of ours serves or is about to serve for it (a child, a remote URL being checked). */
  up: boolean;
  /** The gateway routes requests to it (anything else gets 503 + Retry-After). */
  traffic: boolean;
  /** A final answer for the one who asked (enable, restart, disable wait for one of these). */
  settled: boolean;
  tone: StateTone;
  label: string;
}

export const STATE_INFO: Record<ModuleState, StateInfo> = {
  disabled: { up: false, traffic: false, settled: true, tone: 'off', label: 'disabled' },
  starting: { up: true, traffic: false, settled: false, tone: 'busy', label: 'starting' },
  running: { up: true, traffic: true, settled: true, tone: 'ok', label: 'running' },
  stopping: { up: true, traffic: false, settled: false, tone: 'busy', label: 'stopping' },
  restarting: { up: true, traffic: false, settled: false, tone: 'warn', label: 'restarting' },
  failed: { up: false, traffic: false, settled: true, tone: 'bad', label: 'failed' },
  unreachable: { up: true, traffic: false, settled: true, tone: 'bad', label: 'unreachable' },
};

export function isModuleState(s: unknown): s is ModuleState {
  return typeof s === 'string' && (MODULE_STATES as readonly string[]).includes(s);
}

/** Tone for any string (unknown or "missing" → bad), for views that show states they were sent. */
export function toneOf(state: string): StateTone {
  return isModuleState(state) ? STATE_INFO[state].tone : 'bad';
}
