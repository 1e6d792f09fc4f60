// Shared helpers of the UI tests (not a test file: node --test runs only *.test.js here).
// The elements render in open shadow roots: Playwright locators pierce them, but code run in
// the page has to go through `el.shadowRoot` itself.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A fresh page from the harness, with nothing remembered from earlier tests (the method
 * last used lives in localStorage, shared by every page of the harness's browser). */
export async function freshPage(h) {
  const page = await h.page();
  await page.evaluate(() => localStorage.clear());
  return page;
}

/** The recorded calls of the fake client's method `m` (arguments only). */
export const calls = (page, m) => page.evaluate((m) => client.calls.filter((c) => c[0] == m).map((c) => c.slice(1)), m);

/** What has the focus, looking through shadow roots: its name, data-action, data-strategy,
 * data-testid, id, or tag. */
export const focused = (page) =>
  page.evaluate(() => {
    let a = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    return a.name || a.dataset.action || a.dataset.strategy || a.dataset.testid || a.id || a.tagName.toLowerCase();
  });

/** The element that has the focus inside the shadow roots, as a handle. */
export const deepActive = (page) =>
  page.evaluateHandle(() => {
    let a = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    return a;
  });

const axePath = createRequire(new URL('../harness/package.json', import.meta.url)).resolve('axe-core/axe.min.js');

/** axe-core (WCAG 2.1 A/AA and best practices) on `selector`, shadow trees included:
 * the violations as "rule: targets" lines. */
export async function audit(page, selector) {
  // Evaluated through the DevTools protocol rather than added as a <script>: the demo pages'
  // Content-Security-Policy (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(readFileSync(axePath, 'utf8'));
  const result = await page.evaluate(
    (sel) =>
      axe.run(sel, {
        runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
        rules: { region: { enabled: false } },
      }),
    selector,
  );
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

/** Whether the document or `selector` (in the page, through shadow roots) scrolls sideways. */
export const overflowX = (page, selector) =>
  page.locator(selector).evaluate((el) => ({
    page: document.documentElement.scrollWidth > document.documentElement.clientWidth,
    element: el.scrollWidth > el.clientWidth,
  }));
