// Module output is hostile input for whoever reads it: a log line can carry escape
// sequences that retitle or clear the operator's terminal, move the cursor over earlier
// lines or (on some terminals) answer back. Everything a module wrote is shown only after
// its control sequences and control characters are gone (issue 11, item 14).

// ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC (ESC ] … BEL or ST),
// two-byte escapes (ESC x); the 8-bit C1 forms of CSI (0x9b) and OSC/DCS… (0x9d, 0x90, …).
const SEQUENCES =
  // eslint-disable-next-line no-control-regex
  /\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|(?:\x1b[\]P^_X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]?/g;
// Whatever control character is left: C0 except tab, DEL, C1.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

/** The text with every terminal control sequence and control character (except tab) removed. */
export function stripControls(text: string): string {
  return text.replace(SEQUENCES, '').replace(CONTROLS, '');
}

/**
 * A parsed JSON value with stripControls applied to every string in it, keys included.
 * Depth beyond `maxDepth` is cut to the string "[too deep]" so a hostile nesting cannot
 * exhaust the stack.
 */
export function stripControlsDeep(value: unknown, maxDepth = 20): unknown {
  if (typeof value === 'string') return stripControls(value);
  if (value === null || typeof value !== 'object') return value;
  if (maxDepth <= 0) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => stripControlsDeep(v, maxDepth - 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[stripControls(k)] = stripControlsDeep(v, maxDepth - 1);
  return out;
}
