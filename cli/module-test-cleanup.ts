// Everything one `hubctl test` run must undo, in one place: a stack of undo steps run in
// reverse on the normal way out and on SIGINT/SIGTERM, and the detached reaper
// (module-test-reaper.ts) that is told about each resource before it exists, so a hubctl
// killed with SIGKILL still leaves no database, role, process or folder behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export class RunCleanup {
  private readonly steps: (() => Promise<void>)[] = [];
  private readonly reaper: ChildProcess;
  private running: Promise<void> | null = null;

  constructor() {
    this.reaper = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'module-test-reaper.js')], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.reaper.unref();
    this.reaper.stdin!.on('error', () => undefined);
    (this.reaper.stdin as unknown as { unref?: () => void }).unref?.();
  }

  /** Tells the reaper about a resource (before it is created). */
  tell(message: { pid: number } | { database: { adminUrl: string; name: string } } | { pgData: string } | { dir: string } | { uid: number }): void {
    this.reaper.stdin!.write(JSON.stringify(message) + '\n');
  }

  /** An undo step for the normal way out; steps run newest first. */
  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** Runs every step (each once, errors ignored), then releases the reaper. Safe to call twice. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) await step().catch(() => undefined);
      await new Promise<void>((resolve) => this.reaper.stdin!.end(JSON.stringify({ done: true }) + '\n', () => resolve()));
    })();
    return this.running;
  }

  /** SIGINT/SIGTERM: clean up, then exit 130/143. Returns a function that removes the handlers. */
  onSignals(): () => void {
    const handler = (sig: NodeJS.Signals) => {
      process.stderr.write(`\nhubctl test: ${sig}, cleaning up\n`);
      void this.run().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  }
}
