// The part of supervision every kind of module shares, composed into each supervisor (a
// forked child: supervisor.ts; a module at a URL: remote-supervisor.ts) rather than inherited:
// firing state-machine events on the host, waking whoever waits for a settled state, and the
// one queue that runs a module's operations one at a time.
import { STATE_INFO, type ModuleState } from '../shared/module-states.js';
import { nextState, type ModuleEvent } from './module-state.js';

export interface StateHost {
  state: ModuleState;
}

export class StateCell<H extends StateHost> {
  private waiters: (() => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: H, private readonly onChange: (host: H) => void) {}

  /** Moves the host by one event of kernel/module-state.ts; throws on an event its state does not accept. */
  fire(event: ModuleEvent): void {
    const to = nextState(this.host.state, event);
    if (to === this.host.state) return;
    this.host.state = to;
    this.onChange(this.host);
    if (STATE_INFO[to].settled) for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once the host is in a settled state (running, failed, disabled, unreachable). */
  settled(): Promise<void> {
    if (STATE_INFO[this.host.state].settled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Runs op after every earlier operation on this module: the one lock per module. */
  serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
