// One module folder as the registry read it: the shape registry.ts and its rules share.
import type { HubError } from '../shared/errors.js';
import type { Manifest } from '../shared/manifest.js';

export interface ModuleEntry {
  /** The folder name; equals manifest.name when the manifest is valid. */
  name: string;
  dir: string;
  manifest: Manifest | null;
  /** Unknown module.json fields and the like, one line each; logged on every load. */
  warnings: string[];
  error: HubError | null;
}
