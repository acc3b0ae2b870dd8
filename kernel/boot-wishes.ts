// Where each module's on/off switch comes from when the kernel starts (issue 13 item 3).
// Three witnesses: module.json as it is now, module.json as this kernel last saw or wrote it
// (HUB_DATA_DIR/module-switches.json), and the cluster's record (hub_module_state). A file
// that differs from what the kernel last saw was edited by hand while the hub was down: it
// wins and is published. A record that differs from what the kernel last saw was changed on
// another kernel meanwhile: it wins and is written to the file. When both happened and still
// disagree (the record went back and forth meanwhile), the later one wins: the file's mtime
// against the record's updated_at.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './manifest-writer.js';

export interface SwitchWitnesses {
  /** module.json now. */
  file: boolean;
  /** module.json's modification time, ms since epoch. */
  fileAt: number;
  /** module.json when this kernel last saw it; undefined on a fresh data folder. */
  seen: boolean | undefined;
  /** hub_module_state's row; undefined without a database or without a row. */
  cluster: { enabled: boolean; at: number } | undefined;
}

export interface SwitchDecision {
  enabled: boolean;
  /** Who decided: the file (publish it), the cluster (write the file), or both agree. */
  source: 'file' | 'cluster' | 'same';
  /** One log line when something was decided against another witness; null when all agree. */
  line: string | null;
}

/** Decides one module's switch at boot; see the file comment for the rule. */
export function decideSwitch(name: string, w: SwitchWitnesses): SwitchDecision {
  const word = (on: boolean) => (on ? 'enabled' : 'disabled');
  const file = `modules/${name}/module.json`;
  if (w.cluster === undefined || w.cluster.enabled === w.file) return { enabled: w.file, source: w.cluster === undefined ? 'file' : 'same', line: null };
  // a fresh data folder has no memory: nothing shows a hand edit, so the cluster's record stands
  const handEdit = w.seen !== undefined && w.file !== w.seen;
  if (!handEdit) return { enabled: w.cluster.enabled, source: 'cluster', line: `🔗 ${name}: another kernel ${word(w.cluster.enabled)} it while this one was down; following it and writing ${file}` };
  // edited by hand, and the record disagrees: it was changed back and forth meanwhile (or never
  // changed); whichever happened later wins
  if (w.fileAt >= w.cluster.at) return { enabled: w.file, source: 'file', line: `✏️  ${name}: ${file} was edited while the hub was down; ${name} is ${word(w.file)}, published to the cluster` };
  return {
    enabled: w.cluster.enabled,
    source: 'cluster',
    line: `🔀 ${name}: ${file} was edited (${word(w.file)}, ${iso(w.fileAt)}) and later another kernel changed it (${word(w.cluster.enabled)}, ${iso(w.cluster.at)}) while this one was down; the later wins: ${word(w.cluster.enabled)}`,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

const FILE = 'module-switches.json';

/** module.json's `enabled` as this kernel last saw or wrote it, per module. */
export class SeenSwitches {
  private seen: Record<string, boolean> = {};
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly dataDir: string) {}

  async load(): Promise<void> {
    try {
      const raw = JSON.parse(await readFile(join(this.dataDir, FILE), 'utf8')) as unknown;
      if (raw && typeof raw === 'object') {
        for (const [k, v] of Object.entries(raw)) if (typeof v === 'boolean') this.seen[k] = v;
      }
    } catch {
      this.seen = {};
    }
  }

  get(name: string): boolean | undefined {
    return Object.hasOwn(this.seen, name) ? this.seen[name] : undefined;
  }

  /** Remembers a value and writes the file (atomically, one write at a time). */
  set(name: string, enabled: boolean): Promise<void> {
    if (this.seen[name] === enabled) return this.writing;
    this.seen[name] = enabled;
    const text = JSON.stringify(this.seen, null, 2) + '\n';
    this.writing = this.writing.then(() => writeFileAtomic(join(this.dataDir, FILE), text)).catch(() => undefined);
    return this.writing;
  }
}
