// The real browser of the browser tests: Debian's Chromium driven by playwright-core
// (browser downloads do not work on these machines; .ci/run installs the package).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Launches headless Chromium with a fresh temporary profile; throws one line when it is missing.
 * `extraArgs` are added to the command line (say `--host-resolver-rules=MAP evil.example 127.0.0.1`).
 */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does this)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...extraArgs],
  });
}
