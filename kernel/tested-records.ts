// What `hubctl test` found, per module, against the module's content hash
// (module-fingerprint.ts): HUB_DATA_DIR/tested/<module>.json. With HUB_REQUIRE_TESTED=true a
// module starts only when the record for its current content says it passed; an edit after
// the run changes the hash and the module is untested again. The file lives in the kernel's
// data folder (mode 0700 folder, 0600 files): module children never get HUB_DATA_DIR (their
// sandbox allows only their own build folder) and, in uid isolation, run as other users.
// A file, not a table: the record is about this machine's module folder, while the hub's
// database may be shared by kernels with other copies of the folder.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HubError } from '../shared/errors.js';
import { assertModuleName } from '../shared/names.js';
import { writeFileAtomic } from './manifest-writer.js';
import { moduleContentHash } from './module-fingerprint.js';

export interface TestedCheck {
  name: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  ms: number;
  message: string | null;
}

export interface TestedRecord {
  module: string;
  /** moduleContentHash of the folder the run tested, 64 hex chars. */
  hash: string;
  passed: boolean;
  /** ISO time the run finished. */
  at: string;
  hub_version: string;
  checks: TestedCheck[];
}

/** HUB_DATA_DIR/tested/<module>.json */
export function testedRecordFile(dataDir: string, name: string): string {
  return join(dataDir, 'tested', `${assertModuleName(name)}.json`);
}

/** Writes the record atomically (folder 0700, file 0600). */
export async function writeTestedRecord(dataDir: string, record: TestedRecord): Promise<string> {
  const file = testedRecordFile(dataDir, record.module);
  await mkdir(join(dataDir, 'tested'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n', 0o600);
  return file;
}

/** The record, or null when there is none or it is unreadable. */
export async function readTestedRecord(dataDir: string, name: string): Promise<TestedRecord | null> {
  try {
    const raw = JSON.parse(await readFile(testedRecordFile(dataDir, name), 'utf8')) as Partial<TestedRecord>;
    if (typeof raw.hash !== 'string' || typeof raw.passed !== 'boolean' || raw.module !== name) return null;
    return raw as TestedRecord;
  } catch {
    return null;
  }
}

/**
 * The HUB_REQUIRE_TESTED gate: resolves when the module folder's content as it is now has a
 * passing record; else throws `module_untested` (409) naming the command to run.
 */
export async function assertTested(dataDir: string, name: string, moduleDir: string): Promise<void> {
  const record = await readTestedRecord(dataDir, name);
  const hash = await moduleContentHash(moduleDir);
  if (record?.passed && record.hash === hash) return;
  const why = !record ? 'has never passed hubctl test'
    : !record.passed ? `failed hubctl test at ${record.at}`
    : `was changed after it passed hubctl test at ${record.at}`;
  throw new HubError('module_untested', `module ${name} ${why} and HUB_REQUIRE_TESTED is on; run: npx hubctl test ${name}`,
    { module: name, hash, tested_hash: record?.hash ?? null });
}
