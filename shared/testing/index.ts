// bmc-hub/testing: the module author's test kit. `startModule('notes')` runs one module (and
// the modules it needs) in a real kernel and hands the test its URL, a database handle on its
// tables, signed-in users with given grants, its settings and its logs. See README
// "Writing a module's tests" and modules/_template/tests/.
export { startModule, startTimes, type LogEntry, type RunningModule, type StartModuleOptions } from './start-module.js';
export type { ModuleDb } from './module-db.js';
export type { SignedInUser } from './sign-in.js';
export { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';
export { waitFor } from './wait.js';
