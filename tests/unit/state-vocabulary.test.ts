// The state vocabulary is defined once (issue 13): code asks shared/module-states.ts what a state
// means (isUp, takesTraffic, hasGivenUp, …) instead of comparing state names, so adding a state
// is a change to that file (and to the transition table, kernel/module-state.ts) only.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../../shared/paths.js';
import {
  hasGivenUp,
  isComingUp,
  isDraining,
  isLaunching,
  isOff,
  isRetrying,
  isSettled,
  isStarted,
  isUp,
  MODULE_STATES,
  statesWhere,
  takesTraffic,
} from '../../shared/module-states.js';

/** Where the state names themselves belong: the vocabulary and the transition table. */
const OWNERS = new Set(['shared/module-states.ts', 'kernel/module-state.ts']);

/**
 * Files being rewritten by another change right now (the module set, issue 13); they move to the
 * vocabulary's predicates with it. Remove a file from here once it no longer compares state names.
 */
const PENDING = new Set<string>();

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : /\.(ts|js|mjs|ejs)$/.test(d.name) ? [join(dir, d.name)] : [],
  );
}

const NAMES = MODULE_STATES.join('|');
const COMPARISON = new RegExp(`[!=]==?\\s*(['"\`])(${NAMES})\\1|(['"\`])(${NAMES})\\3\\s*[!=]==?`, 'g');

describe('state vocabulary', () => {
  it('no file in kernel/, shared/ or cli/ compares a state name by hand', () => {
    const found: string[] = [];
    for (const f of ['kernel', 'shared', 'cli'].flatMap((d) => files(join(HUB_ROOT, d)))) {
      const rel = relative(HUB_ROOT, f);
      if (OWNERS.has(rel) || PENDING.has(rel)) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.match(COMPARISON)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('the predicates agree with each other', () => {
    for (const s of MODULE_STATES) {
      if (takesTraffic(s)) expect(isUp(s) && isSettled(s)).toBe(true);
      if (isOff(s) || hasGivenUp(s)) expect(isUp(s) || takesTraffic(s)).toBe(false);
      if (isComingUp(s) || isDraining(s)) expect(isUp(s) && !isSettled(s)).toBe(true);
      expect(isComingUp(s)).toBe(isLaunching(s) || isRetrying(s));
      // every state is exactly one of: off, given up, started, on its way up, draining
      expect([isOff(s), hasGivenUp(s), isStarted(s), isComingUp(s), isDraining(s)].filter(Boolean)).toHaveLength(1);
    }
  });

  it('names the states each question holds for, as they are today', () => {
    expect(statesWhere(takesTraffic)).toEqual(['running']);
    expect(statesWhere(isUp)).toEqual(['starting', 'running', 'stopping', 'restarting', 'unreachable']);
    expect(statesWhere(isSettled)).toEqual(['disabled', 'running', 'failed', 'unreachable']);
    expect(statesWhere(isOff)).toEqual(['disabled']);
    expect(statesWhere(hasGivenUp)).toEqual(['failed']);
    expect(statesWhere(isStarted)).toEqual(['running', 'unreachable']);
    expect(statesWhere(isComingUp)).toEqual(['starting', 'restarting']);
    expect(statesWhere(isDraining)).toEqual(['stopping']);
  });
});
