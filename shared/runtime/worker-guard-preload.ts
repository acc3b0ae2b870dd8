// Built to dist/shared/runtime/worker-guard-preload.cjs (scripts/build.mjs) and given to every
// module child as `--require`: Node runs --require preloads in each worker thread as well,
// before the worker's own code, so nested workers are guarded like the main thread (a child's
// `--import` preloads are not run in workers on Node 20).
import { guardWorkers } from './worker-guard.js';

guardWorkers();
