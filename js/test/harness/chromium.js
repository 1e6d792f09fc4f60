// The one way every browser test starts Chromium: the machine's own (CHROMIUM, else
// /usr/bin/chromium; nothing is downloaded), headless, on a fresh profile in `dir`, with
// no background traffic. `options`: more Playwright context options; `args`: more flags.
import { createRequire } from 'node:module';

const { chromium } = createRequire(import.meta.url)('playwright-core');

export function launchChromium(dir, { args = [], ...options } = {}) {
  return chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
    ...options,
  });
}
