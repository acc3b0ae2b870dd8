// `npm start`: run the kernel until SIGTERM/SIGINT.
import { toHubError } from '../shared/errors.js';
import { ConfigError, loadConfig, type KernelConfig } from './config.js';
import { Kernel } from './kernel.js';
import { consoleFormat } from './console-format.js';
import { createKernelLogger } from './logs.js';
import { mountAdmin } from './admin-api.js';
import { closeInheritedFds } from './inherited-fds.js';

// before anything is opened: what the launcher left open must not reach module children
const inherited = closeInheritedFds();

let config: KernelConfig;
try {
  config = loadConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  for (const p of e.problems) process.stderr.write(`hub: bad setting ${p}\n`);
  process.stderr.write('hub: the kernel will not start on settings it cannot use\n');
  process.exit(1);
}
const log = createKernelLogger({
  dataDir: config.dataDir,
  level: config.logLevel,
  pretty: consoleFormat(config.limits.logFormat) === 'pretty',
  rotation: { maxBytes: config.limits.logMaxBytes, keep: config.limits.logFiles },
});
if (inherited.length > 0) log.info(`🔒 Closed ${inherited.length} file descriptor(s) inherited without close-on-exec (${inherited.join(', ')}): module children never get them`);
const kernel = new Kernel(config, log, mountAdmin);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    log.warn(`${signal} again: exiting now`);
    process.exit(1);
  }
  stopping = true;
  log.info(`${signal} received`);
  try {
    await kernel.stop();
  } catch (e) {
    log.error({ err: e }, `error while stopping: ${(e as Error).message}`);
  }
  process.exit(0);
}
// Node opens its inspector on SIGUSR1 unless the signal has a listener: anything that can
// signal the kernel (a module child running as the same user) could then run code in it.
// With a listener the inspector never opens; the attempt is logged instead (issue 11, item 1).
process.on('SIGUSR1', () => log.warn('SIGUSR1 received and ignored: the kernel never opens its inspector on a signal'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// A kernel bug in one request must not take every module down with it: log, keep serving.
process.on('uncaughtException', (err) => log.error({ err }, `uncaught exception in the kernel: ${err.message}`));
process.on('unhandledRejection', (reason) => log.error({ err: reason }, `unhandled rejection: ${String((reason as Error)?.message ?? reason)}`));

try {
  await kernel.start();
} catch (e) {
  if (e instanceof ConfigError) {
    for (const p of e.problems) log.fatal(`❌ bad setting ${p}`);
  } else {
    const err = toHubError(e);
    log.fatal({ code: err.code }, `❌ Hub could not start: ${err.message}`);
  }
  await kernel.stop().catch(() => undefined);
  process.exit(1);
}
