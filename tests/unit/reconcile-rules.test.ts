// The reconciler's rule, row by row (kernel/reconcile-rules.ts).
import { describe, expect, it } from 'vitest';
import { decide, type DependencyView, type ModuleView } from '../../kernel/reconcile-rules.js';

const m = (over: Partial<ModuleView> = {}): ModuleView => ({ broken: false, wanted: true, state: 'disabled', held: false, kicked: false, ...over });
const dep = (over: Partial<DependencyView> = {}): DependencyView => ({ name: 'billing', known: true, wanted: true, state: 'running', ...over });

describe('decide', () => {
  it('starts a wanted module whose dependencies run', () => {
    expect(decide(m(), [dep()])).toEqual({ kind: 'start' });
  });
  it('stops a module that is not wanted, whatever it is doing', () => {
    for (const state of ['starting', 'running', 'restarting', 'failed', 'unreachable'] as const) expect(decide(m({ wanted: false, state }), [])).toEqual({ kind: 'stop' });
    expect(decide(m({ wanted: false }), [])).toEqual({ kind: 'none' });
  });
  it('holds a module out while a dependency is disabled, failed or missing, naming it', () => {
    expect(decide(m(), [dep({ wanted: false, state: 'disabled' })])).toEqual({ kind: 'hold', reason: 'dependency billing is disabled' });
    expect(decide(m({ state: 'running' }), [dep({ state: 'failed' })])).toEqual({ kind: 'hold', reason: 'dependency billing has failed' });
    expect(decide(m(), [dep({ known: false })])).toEqual({ kind: 'hold', reason: 'dependency billing is not installed' });
  });
  it('waits for a dependency on its way without stopping a module that runs', () => {
    expect(decide(m(), [dep({ state: 'starting' })])).toEqual({ kind: 'wait', on: 'billing' });
    expect(decide(m({ state: 'running' }), [dep({ state: 'restarting' })])).toEqual({ kind: 'none' });
  });
  it('brings a held module up by itself, a crashed one only when asked again', () => {
    expect(decide(m({ state: 'failed', held: true }), [dep()])).toEqual({ kind: 'start' });
    expect(decide(m({ state: 'failed' }), [dep()])).toEqual({ kind: 'none' });
    expect(decide(m({ state: 'failed', kicked: true }), [dep()])).toEqual({ kind: 'start' });
  });
  it('leaves a module the registry refused alone (its record says why)', () => {
    expect(decide(m({ broken: true, state: 'failed' }), [])).toEqual({ kind: 'none' });
  });
});
