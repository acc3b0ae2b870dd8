// JUnit XML for `hubctl test --junit <file>`: one <testsuite> per module, one <testcase> per
// check; a failed check is a <failure>, a warning a <skipped> with its reason. Hand-written
// (about thirty lines) rather than a dependency: the format needs four elements, and the one
// rule that matters, escaping, is here: module output is untrusted, so every text and
// attribute is escaped and characters XML 1.0 cannot hold are dropped.
import type { TestedCheck } from '../kernel/tested-records.js';

export interface JunitModule {
  module: string;
  checks: TestedCheck[];
  /** ISO time the module's run started. */
  startedAt: string;
}

/** Text safe inside an XML 1.0 element or a double-quoted attribute. */
export function xmlEscape(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** The whole document. */
export function junitXml(modules: JunitModule[]): string {
  const count = (f: (c: TestedCheck) => boolean) => modules.reduce((n, m) => n + m.checks.filter(f).length, 0);
  const time = (cs: TestedCheck[]) => seconds(cs.reduce((t, c) => t + c.ms, 0));
  const out = ['<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="hubctl test" tests="${count(() => true)}" failures="${count((c) => c.status === 'fail')}" errors="0" skipped="${count((c) => c.status === 'warn' || c.status === 'skip')}" time="${time(modules.flatMap((m) => m.checks))}">`];
  for (const m of modules) {
    const e = xmlEscape(m.module);
    out.push(`  <testsuite name="${e}" tests="${m.checks.length}" failures="${m.checks.filter((c) => c.status === 'fail').length}" errors="0" skipped="${m.checks.filter((c) => c.status === 'warn' || c.status === 'skip').length}" time="${time(m.checks)}" timestamp="${xmlEscape(m.startedAt)}">`);
    for (const c of m.checks) {
      const open = `    <testcase classname="hubctl.${e}" name="${xmlEscape(c.name)}" time="${seconds(c.ms)}"`;
      const msg = xmlEscape(c.message ?? '');
      if (c.status === 'fail') out.push(`${open}>`, `      <failure message="${xmlEscape((c.message ?? 'failed').split('\n')[0]!)}">${msg}</failure>`, '    </testcase>');
      else if (c.status === 'warn' || c.status === 'skip') out.push(`${open}>`, `      <skipped message="${msg}"/>`, '    </testcase>');
      else out.push(`${open}/>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
