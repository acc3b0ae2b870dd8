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
  /** Switched off: nothing of ours runs for it and nothing is on its way. */
  off: boolean;
  /** The kernel gave up on it (crash loop, bad manifest, failed migration, a dependency that is not running). */
  gaveUp: boolean;
  /** A child (or a remote's first check) has been launched and has not reported ready yet. */
  launching: boolean;
  /** It crashed and waits out its backoff before the next launch. */
  retrying: boolean;
  /** Its child is being drained and stopped. */
  draining: boolean;
  tone: StateTone;
  label: string;
}

const NONE = { up: false, traffic: false, settled: false, off: false, gaveUp: false, launching: false, retrying: false, draining: false };

export const STATE_INFO: Record<ModuleState, StateInfo> = {
  disabled: { ...NONE, settled: true, off: true, tone: 'off', label: 'disabled' },
  starting: { ...NONE, up: true, launching: true, tone: 'busy', label: 'starting' },
  running: { ...NONE, up: true, traffic: true, settled: true, tone: 'ok', label: 'running' },
  stopping: { ...NONE, up: true, draining: true, tone: 'busy', label: 'stopping' },
  restarting: { ...NONE, up: true, retrying: true, tone: 'warn', label: 'restarting' },
  failed: { ...NONE, settled: true, gaveUp: true, tone: 'bad', label: 'failed' },
  unreachable: { ...NONE, up: true, settled: true, tone: 'bad', label: 'unreachable' },
};

// The questions code asks about a state, named for what they mean. Code outside this file and
// the transition table (kernel/module-state.ts) asks these rather than comparing state names,
// so adding a state is a change to this file (tests/unit/state-vocabulary.test.ts checks that).

/** Something of ours serves or is about to serve for it (see StateInfo.up). */
export const isUp = (s: ModuleState): boolean => STATE_INFO[s].up;
/** The gateway routes requests to it; the only state in which a module serves. */
export const takesTraffic = (s: ModuleState): boolean => STATE_INFO[s].traffic;
/** A final answer: whoever waits on an enable, restart or disable stops waiting here. */
export const isSettled = (s: ModuleState): boolean => STATE_INFO[s].settled;
/** Switched off (see StateInfo.off). */
export const isOff = (s: ModuleState): boolean => STATE_INFO[s].off;
/** The kernel gave up on it; it waits for a fix or an operator (see StateInfo.gaveUp). */
export const hasGivenUp = (s: ModuleState): boolean => STATE_INFO[s].gaveUp;
/** Launched, not ready yet (see StateInfo.launching). */
export const isLaunching = (s: ModuleState): boolean => STATE_INFO[s].launching;
/** Waiting out a crash backoff (see StateInfo.retrying). */
export const isRetrying = (s: ModuleState): boolean => STATE_INFO[s].retrying;
/** Being drained and stopped (see StateInfo.draining). */
export const isDraining = (s: ModuleState): boolean => STATE_INFO[s].draining;
/** On its way to serving by itself (launched, or waiting for its retry): a request may wait for it. */
export const isComingUp = (s: ModuleState): boolean => isLaunching(s) || isRetrying(s);
/** Started and settled: serving, or (a remote module) started and checked on an interval while it does not answer. */
export const isStarted = (s: ModuleState): boolean => isUp(s) && isSettled(s);

/** The states for which a question holds, e.g. statesWhere(takesTraffic), for views that count them. */
export function statesWhere(q: (s: ModuleState) => boolean): ModuleState[] {
  return MODULE_STATES.filter(q);
}

export function isModuleState(s: unknown): s is ModuleState {
  return typeof s === 'string' && (MODULE_STATES as readonly string[]).includes(s);
}

/** Tone for any string (unknown or "missing" → bad), for views that show states they were sent. */
export function toneOf(state: string): StateTone {
  return isModuleState(state) ? STATE_INFO[state].tone : 'bad';
}
