// Module hooks (node:module register) that append every module URL the process loads to
// the file named in the registration data, one per line. Used by bench/memory.ts and tests/child-lazy-loading.test.ts to list
// what a module child loads at start; never loaded by the hub itself.
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

export async function load(url: string, context: unknown, next: (url: string, context: unknown) => Promise<unknown>): Promise<unknown> {
  if (file) appendFileSync(file, url + '\n');
  return next(url, context);
}
