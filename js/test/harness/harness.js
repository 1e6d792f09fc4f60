// Test harness for js/test/ui: serves js/ on 127.0.0.1, drives the machine's Chromium
// (headless, fresh profile, nothing downloaded) with playwright-core.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from './serve.js';
import { launchChromium } from './chromium.js';

const shots = new URL('../ui/screenshots/', import.meta.url);

export async function start() {
  const server = await serve();
  const dir = mkdtempSync(join(tmpdir(), 'reverify-ui-'));
  const context = await launchChromium(dir, { viewport: { width: 900, height: 800 } });
  const url = `http://127.0.0.1:${server.address().port}/test/harness/index.html`;
  const errors = [];
  return {
    errors,
    /** A fresh page with the UI loaded (window.ui, window.core, window.fakeClient). */
    async page() {
      const page = await context.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => m.type() == 'error' && errors.push(m.text()));
      await page.goto(url);
      await page.waitForFunction(() => window.ready);
      return page;
    },
    async shot(page, name) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: new URL(name + '.png', shots).pathname });
    },
    async stop() {
      await context.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
