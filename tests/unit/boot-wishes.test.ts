// kernel/boot-wishes.ts: whose on/off switch wins at boot (issue 13 item 3).
import { describe, expect, it } from 'vitest';
import { decideSwitch } from '../../kernel/boot-wishes.js';

describe('decideSwitch', () => {
  it('follows the file when the cluster has no record, or agrees', () => {
    expect(decideSwitch('notes', { file: false, fileAt: 1, seen: true, cluster: undefined })).toMatchObject({ enabled: false, source: 'file', line: null });
    expect(decideSwitch('notes', { file: true, fileAt: 1, seen: true, cluster: { enabled: true, at: 5 } })).toMatchObject({ enabled: true, source: 'same', line: null });
  });
  it('a hand edit made while the hub was down wins and is published', () => {
    const d = decideSwitch('notes', { file: false, fileAt: 100, seen: true, cluster: { enabled: true, at: 50 } });
    expect(d).toMatchObject({ enabled: false, source: 'file' });
    expect(d.line).toMatch(/modules\/notes\/module.json was edited while the hub was down; notes is disabled/);
  });
  it('a change on another kernel while this one was down wins when the file was not touched', () => {
    const d = decideSwitch('notes', { file: true, fileAt: 100, seen: true, cluster: { enabled: false, at: 50 } });
    expect(d).toMatchObject({ enabled: false, source: 'cluster' });
    expect(d.line).toMatch(/another kernel disabled it while this one was down/);
  });
  it('a fresh data folder follows the cluster (no evidence of a hand edit)', () => {
    expect(decideSwitch('notes', { file: false, fileAt: 100, seen: undefined, cluster: { enabled: true, at: 50 } })).toMatchObject({ enabled: true, source: 'cluster' });
  });
  it('both: the later wins, in one line', () => {
    const d = decideSwitch('notes', { file: false, fileAt: 100, seen: true, cluster: { enabled: true, at: 200 } });
    expect(d).toMatchObject({ enabled: true, source: 'cluster' });
    expect(d.line).toMatch(/later another kernel changed it .* the later wins: enabled/);
  });
});
