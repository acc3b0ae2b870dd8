// `hubctl logs` shows an entry's fields besides its message, as the kernel's console does: a
// newcomer reading `hubctl logs my_feature` saw "[kernel] migration applied" without the file,
// and `hubctl logs --kernel` lines about a module without the module's name.
import { describe, expect, it } from 'vitest';
import { formatEntry } from '../../cli/logs.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
const time = '2026-01-02T03:04:05.678Z';

describe('hubctl logs line format', () => {
  it("a module's log: the kernel's lines marked [kernel], with their fields; the module's own fields too", () => {
    const kernelLine = { level: 30, time, pid: 9, name: 'kernel', module: 'my_feature', file: '002_add_done.sql', ms: 8, msg: 'migration applied', source: 'kernel' };
    expect(strip(formatEntry(kernelLine))).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  \[kernel\] migration applied file=002_add_done.sql ms=8$/);
    const own = { level: 30, time, pid: 10, module: 'notes', id: 1, msg: '📝 Created note 1' };
    expect(strip(formatEntry(own))).toMatch(/ INFO  📝 Created note 1 id=1$/);
  });

  it("the kernel's log names the module a line is about", () => {
    const e = { level: 30, time, pid: 9, name: 'kernel', module: 'notes', file: '001_init.sql', msg: 'migration applied' };
    expect(strip(formatEntry(e, true))).toMatch(/ INFO  \[notes\] migration applied file=001_init.sql$/);
    expect(strip(formatEntry({ level: 30, time, msg: 'plain' }, true))).toMatch(/ INFO  plain$/);
  });

  it('an error keeps its stack below the line; one without a stack is shown as a field', () => {
    const out = strip(formatEntry({ level: 50, time, msg: 'boom', err: { message: 'x', stack: 'Error: x\n    at f (a.js:1:1)' } })).split('\n');
    expect(out[0]).toMatch(/ ERROR boom$/);
    expect(out[1]).toBe('    Error: x');
    expect(strip(formatEntry({ level: 50, time, msg: 'boom', err: 'plain text' }))).toMatch(/ ERROR boom err=plain text$/);
  });
});
