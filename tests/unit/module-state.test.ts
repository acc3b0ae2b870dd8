// The state table (kernel/module-state.ts) and the shared vocabulary (shared/module-states.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canFire, nextState, type ModuleEvent } from '../../kernel/module-state.js';
import { MODULE_STATES, STATE_INFO, toneOf } from '../../shared/module-states.js';
import { HUB_ROOT } from '../../shared/paths.js';

const EVENTS: ModuleEvent[] = ['start', 'ready', 'crash', 'give_up', 'retry', 'stop', 'stopped', 'lost'];

describe('module state machine', () => {
  it('walks the happy path and a crash restart', () => {
    expect(nextState('disabled', 'start')).toBe('starting');
    expect(nextState('starting', 'ready')).toBe('running');
    expect(nextState('running', 'crash')).toBe('restarting');
    expect(nextState('restarting', 'retry')).toBe('starting');
    expect(nextState('running', 'stop')).toBe('stopping');
    expect(nextState('stopping', 'stopped')).toBe('disabled');
  });
  it('throws on an event a state does not accept, and canFire agrees with nextState everywhere', () => {
    expect(() => nextState('disabled', 'ready')).toThrow(/not allowed/);
    for (const s of MODULE_STATES) for (const e of EVENTS) {
      let ok = true;
      try {
        nextState(s, e);
      } catch {
        ok = false;
      }
      expect(canFire(s, e)).toBe(ok);
    }
  });
  it('every state can be stopped to disabled', () => {
    for (const s of MODULE_STATES) {
      let state = nextState(s, 'stop');
      if (state === 'stopping') state = nextState(state, 'stopped');
      expect(state).toBe('disabled');
    }
  });
});

describe('state vocabulary', () => {
  it('describes every state once; only running takes traffic', () => {
    expect(Object.keys(STATE_INFO).sort()).toEqual([...MODULE_STATES].sort());
    expect(MODULE_STATES.filter((s) => STATE_INFO[s].traffic)).toEqual(['running']);
    expect(toneOf('unreachable')).toBe('bad');
    expect(toneOf('missing')).toBe('bad');
  });
  it('the dashboard CSS has a rule for every tone', () => {
    const css = readFileSync(join(HUB_ROOT, 'kernel/public/dashboard.css'), 'utf8');
    for (const s of MODULE_STATES) expect(css).toContain(`.tone-${STATE_INFO[s].tone}`);
  });
  it('the architecture doc names every state', () => {
    const doc = readFileSync(join(HUB_ROOT, 'docs/architecture.md'), 'utf8');
    for (const s of MODULE_STATES) expect(doc).toContain(s);
  });
});
