// READ_ONLY and DRY_RUN, both on unless the operator turns them off, answered the same
// way by every module so a client can tell a blocked write from a failed one.
import type { Logger } from 'pino';
import type { ModuleConfig, Safety } from '../module-api.js';
import { envName } from '../names.js';

export function createSafety(name: string, config: ModuleConfig, log: Logger): Safety {
  const readOnly = config.bool('READ_ONLY', true);
  const dryRun = config.bool('DRY_RUN', true);
  const key = (k: string) => `MODULES__${envName(name)}__${k}`;
  return {
    readOnly,
    dryRun,
    allowWrite(res, action) {
      if (readOnly) {
        log.info({ action }, `🔒 READ_ONLY: blocked ${action}`);
        res.status(403).json({ success: false, message: 'READ_ONLY mode', hint: `set ${key('READ_ONLY')}=false to allow writes` });
        return false;
      }
      if (dryRun) {
        log.info({ action }, `🧪 DRY_RUN: would ${action}`);
        res.status(200).json({ success: true, dry_run: true, hint: `set ${key('DRY_RUN')}=false to perform writes` });
        return false;
      }
      return true;
    },
  };
}
