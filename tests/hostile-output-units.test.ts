// The pieces behind "nothing on a child's word", checked without a kernel: the line
// splitter never holds more than its cap, control sequences are stripped, compile errors
// never quote source, and Workers that would widen the permission model are recognised.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { splitLines } from '../kernel/line-splitter.js';
import { compileErrorText } from '../kernel/module-compiler.js';
import { stripControls, stripControlsDeep } from '../shared/terminal-safe.js';
import { widensPermissions } from '../shared/runtime/worker-guard.js';

describe('splitLines', () => {
  it('cuts a 20 MB line at the cap and marks how much was dropped, keeping the lines around it whole', async () => {
    const input = new PassThrough();
    const lines: string[] = [];
    splitLines(input, 1024, (l) => lines.push(l));
    input.write('first\r\nsecond\n');
    for (let i = 0; i < 20; i++) input.write(Buffer.alloc(1024 * 1024, 0x7a));
    input.write('\nlast');
    input.end();
    await new Promise((r) => input.once('end', r));
    expect(lines[0]).toBe('first');
    expect(lines[1]).toBe('second');
    expect(lines[2]).toBe(`${'z'.repeat(1024)} … [truncated ${20 * 1024 * 1024 - 1024} bytes]`);
    expect(lines[3]).toBe('last');
    expect(lines).toHaveLength(4);
  });
});

describe('stripControls', () => {
  it('removes OSC, CSI, other escapes and C0/C1 controls but keeps tabs and text', () => {
    expect(stripControls('\x1b]0;title\x07\x1b[2Jcleared\x1b[31m red\x1b[0m \x9b1mC1\x07\x08 done\ttab')).toBe('cleared red C1 done\ttab');
    expect(stripControls('a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\b\x1bcc\r\x00')).toBe('alinkbc');
    expect(stripControlsDeep({ 'k\x1b[1m': ['\x1b[2Jx', { y: '\x07z' }], n: 1 })).toEqual({ k: ['x', { y: 'z' }], n: 1 });
  });
});

describe('compileErrorText', () => {
  it('keeps file:line and the message, never the source line or notes', () => {
    const err = { errors: [{ text: 'Unexpected "}"', location: { file: 'backend/router.js', line: 3, lineText: 'const secret = "hunter2" }' }, notes: [{ text: 'hunter2' }] }] };
    expect(compileErrorText(err)).toBe('backend/router.js:3: Unexpected "}"');
  });
});

describe('widensPermissions', () => {
  it('refuses execArgv and NODE_OPTIONS in a Worker env, accepts what piscina passes', () => {
    expect(widensPermissions({ execArgv: ['--allow-fs-read=*'] })).toMatch(/execArgv/);
    expect(widensPermissions({ env: { NODE_OPTIONS: '--allow-fs-read=*' } })).toMatch(/NODE_OPTIONS/);
    expect(widensPermissions({ env: { node_options: '--allow-fs-read=*' } })).toMatch(/NODE_OPTIONS/);
    expect(widensPermissions({ env: undefined, execArgv: undefined })).toBeNull();
    expect(widensPermissions(undefined)).toBeNull();
  });
});
