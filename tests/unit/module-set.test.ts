// kernel/module-set.ts with a fake child: the reconciler alone, in milliseconds.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModuleSet } from '../../kernel/module-set.js';
import type { ModuleEntry } from '../../kernel/registry.js';
import type { ModuleSupervisor } from '../../kernel/supervisor.js';
import type { ModuleState } from '../../shared/module-states.js';

/** A supervisor whose child gets ready when the test says so. */
class FakeSupervisor {
  state: ModuleState = 'disabled';
  wanted = false;
  lastError: string | null = null;
  reloadError: string | null = null;
  starts = 0;
  constructor(public entry: ModuleEntry, private readonly changed: (s: FakeSupervisor) => void) {}
  get name() {
    return this.entry.name;
  }
  private set(state: ModuleState) {
    this.state = state;
    this.changed(this);
  }
  async start() {
    if (this.state === 'running' || this.state === 'starting') return;
    this.starts++;
    this.set('starting');
  }
  ready() {
    if (this.state === 'starting') this.set('running');
  }
  crashForGood(why: string) {
    this.lastError = why;
    this.set('failed');
  }
  async stop() {
    if (this.state !== 'disabled') this.set('disabled');
  }
  async hold(reason: string) {
    this.lastError = reason;
    this.set('failed');
  }
  replaceEntry(e: ModuleEntry) {
    this.entry = e;
  }
}

function entry(name: string, dependencies: string[] = []): ModuleEntry {
  return { name, dir: `/m/${name}`, manifest: { name, enabled: true, api_prefix: `/api/v1/${name}`, dependencies } as never, warnings: [], error: null };
}

function setup() {
  const fakes = new Map<string, FakeSupervisor>();
  const set: ModuleSet = new ModuleSet({
    log: pino({ level: 'silent' }),
    modulesDir: '/m',
    supervise: (e) => {
      const f = new FakeSupervisor(e, (s) => set.changed(s as unknown as ModuleSupervisor));
      fakes.set(e.name, f);
      return f as unknown as ModuleSupervisor;
    },
    persist: async () => undefined,
  });
  const tick = () => new Promise((r) => setImmediate(r));
  return { set, fakes, tick };
}

describe('ModuleSet', () => {
  it('holds a dependent while its dependency is off, and brings it up when the dependency runs', async () => {
    const { set, fakes, tick } = setup();
    const billing = set.add(entry('billing'));
    const invoices = set.add(entry('invoices', ['billing']));
    await set.want(invoices, true, 'boot', false);
    await tick();
    expect(fakes.get('invoices')!.state).toBe('failed');
    expect(fakes.get('invoices')!.lastError).toBe('dependency billing is disabled');
    await set.want(billing, true, 'api');
    await tick();
    expect(fakes.get('billing')!.state).toBe('starting');
    expect(fakes.get('invoices')!.state).toBe('failed'); // waits while billing starts
    fakes.get('billing')!.ready();
    await tick();
    expect(fakes.get('invoices')!.state).toBe('starting');
    fakes.get('invoices')!.ready();
    // billing turned off by a hand edit: invoices is held out again
    await set.want(billing, false, 'module.json');
    await tick();
    expect(fakes.get('invoices')!.state).toBe('failed');
    expect(fakes.get('invoices')!.lastError).toBe('dependency billing is disabled');
  });

  it('a disable while starting wins at once; the outcome resolves', async () => {
    const { set, fakes, tick } = setup();
    const hang = set.add(entry('hang'));
    await set.want(hang, true, 'api');
    await tick();
    expect(fakes.get('hang')!.state).toBe('starting');
    const answered = set.outcome(hang);
    await set.want(hang, false, 'api');
    await answered;
    expect(fakes.get('hang')!.state).toBe('disabled');
  });

  it('wanting what is wanted changes nothing; a crashed module starts again only when kicked', async () => {
    const { set, fakes, tick } = setup();
    const mod = set.add(entry('mod'));
    await set.want(mod, true, 'boot', false);
    await tick();
    fakes.get('mod')!.crashForGood('crash loop');
    set.reconcileAll();
    await set.want(mod, true, 'cluster');
    await set.want(mod, true, 'cluster');
    await tick();
    expect(fakes.get('mod')!.starts).toBe(1); // a repeated wish is no new wish: the crashed module stays failed
    set.reconcileAll();
    await tick();
    expect(fakes.get('mod')!.starts).toBe(1);
    set.kick(mod);
    await tick();
    expect(fakes.get('mod')!.starts).toBe(2);
  });

  it('boot readiness: every first attempt over, a held dependent counts as answered', async () => {
    const { set, fakes, tick } = setup();
    const a = set.add(entry('a'));
    const b = set.add(entry('b', ['a']));
    await set.want(a, true, 'boot', false);
    await set.want(b, true, 'boot', false);
    let ready = false;
    void set.firstAttempts().then(() => (ready = true));
    await tick();
    expect(ready).toBe(false);
    fakes.get('a')!.crashForGood('boom');
    await tick();
    await tick();
    expect(ready).toBe(true);
    expect(fakes.get('b')!.lastError).toBe('dependency a has failed');
  });
});
