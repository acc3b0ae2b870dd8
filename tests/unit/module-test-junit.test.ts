import { describe, expect, it } from 'vitest';
import { junitXml, xmlEscape } from '../../cli/module-test-junit.js';

describe('JUnit writer (hubctl test --junit)', () => {
  it('escapes markup and drops characters XML cannot hold', () => {
    expect(xmlEscape(`a<b>&"c'\u0000\u0007d\u001b[31m`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;d[31m');
    expect(xmlEscape('tab\tnl\ncr\r ✓ 😀')).toBe('tab\tnl\ncr\r ✓ 😀');
  });

  it('writes one suite per module, failures and warnings as failure and skipped', () => {
    const xml = junitXml([{
      module: 'notes',
      startedAt: '2026-01-01T00:00:00.000Z',
      checks: [
        { name: 'migrations', status: 'fail', ms: 1500, message: '002_x.sql down left table notes_tags\nmore <detail>' },
        { name: 'module tests', status: 'warn', ms: 0, message: 'no tests in modules/notes/tests' },
        { name: 'real child', status: 'pass', ms: 12, message: 'ok' },
      ],
    }]);
    expect(xml).toBe([
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<testsuites name="hubctl test" tests="3" failures="1" errors="0" skipped="1" time="1.512">',
      '  <testsuite name="notes" tests="3" failures="1" errors="0" skipped="1" time="1.512" timestamp="2026-01-01T00:00:00.000Z">',
      '    <testcase classname="hubctl.notes" name="migrations" time="1.500">',
      '      <failure message="002_x.sql down left table notes_tags">002_x.sql down left table notes_tags\nmore &lt;detail&gt;</failure>',
      '    </testcase>',
      '    <testcase classname="hubctl.notes" name="module tests" time="0.000">',
      '      <skipped message="no tests in modules/notes/tests"/>',
      '    </testcase>',
      '    <testcase classname="hubctl.notes" name="real child" time="0.012"/>',
      '  </testsuite>',
      '</testsuites>',
      '',
    ].join('\n'));
  });
});
