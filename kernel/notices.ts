// What becomes a notice (issue 18 item 4): from the modules' state changes, a crash (the
// module waits out a backoff), `failed` (the kernel gave up), a recovery (running again after
// either); from the admin API, enable and disable with who asked. Each notice goes into the
// ring (kernel/notice-ring.ts) and to every HUB_NOTIFY_URL (kernel/notice-sender.ts).
import type { Logger } from '../shared/logger.js';
import { hasGivenUp, isOff, isRetrying, takesTraffic, type ModuleState } from '../shared/module-states.js';
import type { NotifySettings } from './config.js';
import { NoticeRing, type Notice, type NoticeType } from './notice-ring.js';
import { NoticeSender } from './notice-sender.js';
import type { ModuleSupervisor } from './supervisor.js';

export class Notices {
  readonly ring = new NoticeRing();
  readonly sender: NoticeSender;
  /** Per module: the state seen last, and whether it is in trouble (crashed or failed, not yet running again). */
  private readonly seen = new Map<string, { state: ModuleState; troubled: boolean }>();

  constructor(settings: NotifySettings, log: Logger) {
    this.sender = new NoticeSender(settings.urls, settings, log);
  }

  private emit(sup: ModuleSupervisor, type: NoticeType, message: string, actor: string | null = null): Notice {
    const n = this.ring.add({ type, module: sup.name, state: sup.state, message, actor, restarts: sup.restarts });
    this.sender.send(n);
    return n;
  }

  /** A supervisor changed (ModuleSet.onChange): a notice when its state moved in a way that matters. */
  observe(sup: ModuleSupervisor): void {
    const before = this.seen.get(sup.name) ?? { state: 'disabled' as ModuleState, troubled: false };
    const state = sup.state;
    if (state === before.state) return;
    let troubled = before.troubled;
    if (isRetrying(state)) {
      troubled = true;
      this.emit(sup, 'module.crashed', `${sup.name} crashed: ${sup.lastError ?? 'its process ended'}; restarting`);
    } else if (hasGivenUp(state)) {
      troubled = true;
      this.emit(sup, 'module.failed', `${sup.name} failed: ${sup.lastError ?? 'unknown error'}`);
    } else if (takesTraffic(state) && troubled) {
      troubled = false;
      this.emit(sup, 'module.recovered', `${sup.name} recovered and is running`);
    } else if (isOff(state)) troubled = false;
    this.seen.set(sup.name, { state, troubled });
  }

  /** The admin API switched a module (after the switch is done): who asked, and where it ended. */
  switched(sup: ModuleSupervisor, on: boolean, actor: string): void {
    this.emit(sup, on ? 'module.enabled' : 'module.disabled', `${sup.name} ${on ? 'enabled' : 'disabled'} by ${actor}`, actor);
  }

  stop(): void {
    this.sender.stop();
  }
}
