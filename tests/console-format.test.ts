// Issue 14, "also expected": the kernel's console is readable in a terminal (one line per
// event, stacks kept together under their line) and JSON when not a TTY or when asked.
import { afterAll, describe, expect, it } from 'vitest';
import { consoleFormat, formatLine } from '../kernel/console-format.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

afterAll(stopAllKernels);

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

describe('console format', () => {
  it('LOG_FORMAT wins; otherwise pretty on a TTY and JSON elsewhere', () => {
    // the value comes checked from kernel/config.ts (LOG_FORMAT=bogus stops the kernel there)
    expect(consoleFormat(undefined, true)).toBe('pretty');
    expect(consoleFormat(undefined, false)).toBe('json');
    expect(consoleFormat('json', true)).toBe('json');
    expect(consoleFormat('pretty', false)).toBe('pretty');
  });

  it('one line per event: time, level, [module], message, other fields; the stack indented below', () => {
    const line = JSON.stringify({ level: 50, time: '2026-01-02T03:04:05.678Z', pid: 1, name: 'kernel', module: 'notes', msg: 'boom', reason: 'hang', err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f (a.js:1:1)' } });
    const out = strip(formatLine(line)).split('\n');
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR \[notes\] boom reason=hang$/);
    expect(out[1]).toBe('    Error: x');
    expect(out[2]).toBe('        at f (a.js:1:1)');
    expect(formatLine('not json')).toBe('not json');
  });

  it('a kernel with LOG_FORMAT=pretty writes readable lines, and a module error keeps its stack together', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'oops', {
      router: `export default (router, ctx) => { router.get('/fail', (req, res) => { ctx.log.error({ err: new Error('kaboom') }, 'handler failed'); res.json({}); }); };`,
    });
    const k = await startKernel({ modulesDir, env: { LOG_FORMAT: 'pretty' } });
    expect(k.lines.find((l) => /Gateway listening/.test(l))).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  .*Gateway listening/);
    expect(k.lines.every((l) => !l.startsWith('{"level"'))).toBe(true);
    await k.json('/api/v1/oops/fail');
    const at = await waitFor(() => {
      const i = k.lines.findIndex((l) => /ERROR \[oops\] handler failed/.test(strip(l)));
      return i >= 0 && k.lines.length > i + 1 ? i : undefined;
    }, { what: 'the module error on the console' });
    expect(strip(k.lines[at + 1]!)).toBe('    Error: kaboom');
    expect(strip(k.lines[at + 2]!)).toMatch(/^ {8}at /);
  });

  it('JSON lines when not a TTY and LOG_FORMAT is unset (the test helper pipes stdout)', async () => {
    const k = await startKernel({ modulesDir: tempDir('modules') });
    expect(k.lines.find((l) => /Gateway listening/.test(l))).toMatch(/^\{"level":30/);
  });
});
