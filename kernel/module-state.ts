// A module's life as one state machine: every allowed transition is in this table and
// nowhere else. The supervisor fires events; an event a state does not accept is a bug
// and throws, rather than leaving the module in a state nobody planned for.
// `unreachable` is for remote modules only: no process of ours, and its URL does not answer.
// The states themselves (and what they mean to views) live in shared/module-states.ts.
import type { ModuleState } from '../shared/module-states.js';
export { MODULE_STATES, type ModuleState } from '../shared/module-states.js';

export type ModuleEvent =
  | 'start' // enable, or restart from failed/disabled
  | 'ready' // the child reported its port
  | 'crash' // the child died, hung, overran memory or never got ready; will retry
  | 'give_up' // crash loop, bad manifest, failed migration
  | 'retry' // backoff elapsed
  | 'stop' // disable or kernel shutdown
  | 'stopped' // the child is gone
  | 'lost'; // a remote module stopped answering its health check

const TRANSITIONS: Record<ModuleState, Partial<Record<ModuleEvent, ModuleState>>> = {
  disabled: { start: 'starting', give_up: 'failed', stop: 'disabled' },
  starting: { ready: 'running', crash: 'restarting', give_up: 'failed', stop: 'stopping', lost: 'unreachable' },
  running: { crash: 'restarting', give_up: 'failed', stop: 'stopping', ready: 'running', lost: 'unreachable' },
  restarting: { retry: 'starting', give_up: 'failed', stop: 'disabled' },
  stopping: { stopped: 'disabled', crash: 'disabled', give_up: 'disabled', stop: 'stopping' },
  failed: { start: 'starting', stop: 'disabled', give_up: 'failed' },
  unreachable: { ready: 'running', lost: 'unreachable', stop: 'disabled', give_up: 'failed', start: 'starting' },
};

export function nextState(from: ModuleState, event: ModuleEvent): ModuleState {
  const to = TRANSITIONS[from][event];
  if (to === undefined) throw new Error(`module state machine: event "${event}" is not allowed in state "${from}"`);
  return to;
}

export function canFire(from: ModuleState, event: ModuleEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}
