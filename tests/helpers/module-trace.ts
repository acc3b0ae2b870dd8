// `node --import dist/tests/helpers/module-trace.js …` with HUB_TRACE_FILE set: registers
// ./module-trace-hooks.js, which records every ESM module (and CommonJS entry imported from
// ESM) the process loads. Requires inside a CommonJS package are not seen; its entry is.
import { register } from 'node:module';

const file = process.env.HUB_TRACE_FILE;
if (file) register('./module-trace-hooks.js', { parentURL: import.meta.url, data: { file } });
