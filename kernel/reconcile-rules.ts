// The reconciler's one rule, as a pure function: given what is wanted for a module and the
// states of the modules it depends on, what should happen to it now. kernel/module-set.ts
// applies the answer; tests/unit/reconcile-rules.test.ts checks every row.
//
// A module runs only while it is wanted and every dependency is running (issue 13 item 2).
// A dependency that is on its way (starting, restarting) is waited for without stopping a
// module that already runs; a dependency that is off or failed holds the module out with a
// reason, and the module comes up by itself when the dependency does.
import { hasGivenUp, isDraining, isOff, isUp, takesTraffic, type ModuleState } from '../shared/module-states.js';

export interface DependencyView {
  name: string;
  /** Unknown to the kernel (no folder): the registry already marks the module's entry as an error. */
  known: boolean;
  wanted: boolean;
  state: ModuleState;
}

export interface ModuleView {
  /** The registry refused its manifest: the supervisor shows `failed` with the reason; nothing to do. */
  broken: boolean;
  wanted: boolean;
  state: ModuleState;
  /** In `failed` because a dependency held it out (not because it crashed or gave up). */
  held: boolean;
  /** Someone asked for this module to be tried again (enable, restart, a reload of its files, boot). */
  kicked: boolean;
}

export type Goal =
  | { kind: 'none' }
  | { kind: 'start' }
  | { kind: 'stop' }
  | { kind: 'hold'; reason: string }
  /** A dependency is on its way: leave the module as it is. */
  | { kind: 'wait'; on: string };

/** Why a dependency keeps a module out, or null when it does not (running, or on its way). */
export function dependencyBlock(dep: DependencyView): { hold: string } | { wait: string } | null {
  if (!dep.known) return { hold: `dependency ${dep.name} is not installed` };
  if (!dep.wanted) return { hold: `dependency ${dep.name} is disabled` };
  if (takesTraffic(dep.state)) return null;
  if (hasGivenUp(dep.state)) return { hold: `dependency ${dep.name} has failed` };
  return { wait: dep.name };
}

/** What to do with one module now; see the file comment for the rule. */
export function decide(m: ModuleView, deps: DependencyView[]): Goal {
  const live = isUp(m.state) && !isDraining(m.state); // serving, on its way, or (remote) checked
  if (m.broken) return { kind: 'none' };
  if (!m.wanted) return isOff(m.state) ? { kind: 'none' } : { kind: 'stop' };
  for (const d of deps) {
    const block = dependencyBlock(d);
    if (block && 'hold' in block) return { kind: 'hold', reason: block.hold };
  }
  const waiting = deps.map(dependencyBlock).find((b): b is { wait: string } => b !== null && 'wait' in b);
  if (waiting) return live ? { kind: 'none' } : { kind: 'wait', on: waiting.wait };
  if (live) return { kind: 'none' };
  if (isOff(m.state) || isDraining(m.state)) return { kind: 'start' };
  // failed: a held module comes up by itself; a crashed or refused one only when asked again
  return m.held || m.kicked ? { kind: 'start' } : { kind: 'none' };
}
