/**
 * The developer console in a real browser: Debian's `chromium`, driven by playwright-core,
 * headless. The Fastify demo runs with `PERISCOPE_CONSOLE=1`; the page is opened with the
 * token it prints and checked the way a developer would use it. Screenshots of each page go
 * to artifacts/console/ (kept by CI as artifacts). Here rather than in the unit suite: it
 * checks that the log tail shows a line within a second, a claim about time.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { RunningChild } from '../child-process.js';

const root = new URL('../../', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  throw new Error('The console browser test needs Debian\'s chromium: `apt-get install chromium` (.ci/run installs it).');
}
const SHOTS = `${root}artifacts/console`;
/**
 * The demo breaker's pause. Reading an open breaker whose pause is over moves it to half_open,
 * so the Health page must be read within it: a minute, where the demo's own five seconds could
 * pass on a busy machine before the page loads.
 */
const BREAKER_OPEN_MS = 60_000;

let demo: RunningChild;
let browser: Browser;
let page: Page;
let base: string;
let consoleUrl: string;
/** Errors the page reported: console.error, uncaught exceptions, failed loads. */
const pageErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: false });
}

const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 5000 });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = new RunningChild(process.execPath, [`${root}examples/fastify.mjs`], { cwd: root, env: { ...process.env, PORT: '0', HOST: undefined, PERISCOPE_CONSOLE: '1', DEMO_BREAKER_OPEN_MS: String(BREAKER_OPEN_MS) } });
  const banner = await demo.until('console:');
  base = /service:\s+(http:\/\/localhost:\d+)\//.exec(banner)![1]!;
  consoleUrl = /console:\s+(http:\/\/127\.0\.0\.1:\d+\/login\?t=[A-Za-z0-9_-]+)/.exec(banner)![1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // The event stream is cut when the page closes; anything else failing is a fault.
    if (!r.url().endsWith('/api/events')) pageErrors.push(`requestfailed: ${r.url()}`);
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('the developer console in Chromium', () => {
  it('logs in with the printed token: the cookie is set and the token leaves the address bar', async () => {
    await page.goto(consoleUrl);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(page.url()).not.toContain('t=');
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['periscope_console', true, 'Strict']]);
    await page.waitForSelector('#conn.live');
  });

  it('updates the Routes page without a reload as requests come', async () => {
    for (let i = 0; i < 3; i++) await fetch(`${base}/hello/world`);
    const row = '#routes-table tr[data-route="/hello/:name"]';
    await expect.poll(() => text(`${row} td.requests`), { timeout: 10_000 }).toBe('3');
    await fetch(`${base}/hello/world`);
    await expect.poll(() => text(`${row} td.requests`), { timeout: 10_000 }).toBe('4');
    await fetch(`${base}/slow?ms=120`);
    await expect.poll(() => text('#routes-table tr[data-route="/slow"] td.requests'), { timeout: 10_000 }).toBe('1');
    await shot('routes');
  });

  it('shows a 500 among the error traces; its waterfall and its log lines, whose trace ID matches', async () => {
    expect((await fetch(`${base}/fail`)).status).toBe(500);
    await page.click('nav a[data-nav="traces"]');
    const errorRow = page.locator('#error-traces tr[data-trace]').first();
    await errorRow.waitFor({ timeout: 10_000 });
    expect(await errorRow.locator('td.status').textContent()).toBe('500');
    expect(await errorRow.locator('td.name').textContent()).toBe('GET /fail');
    const traceId = (await errorRow.getAttribute('data-trace'))!;
    await errorRow.click();
    await page.waitForSelector('#waterfall .span-row');
    expect(await page.locator('#waterfall .span-row .span-name').first().textContent()).toBe('GET /fail');
    // The root span is selected: its attributes and the recorded exception are shown.
    expect(await page.locator('#span-info').textContent()).toContain('http.response.status_code');
    expect(await page.locator('#span-info').textContent()).toContain('this route always fails');
    const lines = page.locator('#trace-logs .log-line');
    await expect.poll(() => lines.count()).toBeGreaterThanOrEqual(1);
    const ids = await lines.evaluateAll((els) => els.map((e) => e.getAttribute('data-trace')));
    expect(new Set(ids)).toEqual(new Set([traceId]));
    expect(await lines.first().locator('.text').textContent()).toContain('"status_code":500');
    await shot('traces');
  });

  it('tails the log: a new line shows within a second; a <script> in a logged value stays text', async () => {
    await page.click('nav a[data-nav="logs"]');
    await page.waitForSelector('#log-list .log-line');
    const payload = '<script>window.__pwned=1</script>';
    // The console's part only: from the line's own `time` (written by the service's logger) to
    // the moment the page inserts it, on the same machine's clock. A MutationObserver notes that
    // moment in the page, so neither the client's request nor Playwright's polling is counted.
    // (Run in the page as a string: this project compiles without the DOM's types.)
    await page.evaluate(`(() => {
      window.__lineSeenAt = undefined;
      const list = document.querySelector('#log-list');
      const seen = new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.matches('.log-line') && n.textContent.includes('said hello') && n.textContent.includes('__pwned')) {
            window.__lineSeenAt = Date.now();
            seen.disconnect();
            return;
          }
        }
      });
      seen.observe(list, { childList: true });
    })()`);
    await fetch(`${base}/hello/${encodeURIComponent(payload)}`);
    const line = page.locator('#log-list .log-line', { hasText: 'said hello' }).filter({ hasText: '__pwned' }).first();
    // Generous: a slow run reports its number below rather than a timeout.
    await line.waitFor({ timeout: 10_000 });
    const seenAt = (await page.evaluate('window.__lineSeenAt')) as number | undefined;
    const loggedAt = Date.parse((await line.locator('.time').textContent())!);
    const shownAfterMs = seenAt! - loggedAt;
    expect(shownAfterMs, `logged at ${loggedAt}, shown at ${seenAt}`).toBeGreaterThanOrEqual(0);
    expect(shownAfterMs, `logged at ${loggedAt}, shown at ${seenAt}`).toBeLessThan(1000);
    expect(await line.locator('.text').textContent()).toContain(`"name":"${payload}"`);
    expect(await page.evaluate("document.querySelectorAll('main script').length")).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    // The line links to its trace.
    expect(await line.locator('a.trace-link').getAttribute('href')).toMatch(/^#traces\/[0-9a-f]{32}$/);
    // Filters: by level, then by text.
    await page.selectOption('#log-level', 'error');
    await expect.poll(() => page.locator('#log-list .log-line').evaluateAll((els) => els.every((e) => e.classList.contains('lvl-error')))).toBe(true);
    await page.selectOption('#log-level', '');
    await page.fill('#log-text', '__pwned');
    await expect.poll(() => page.locator('#log-list .log-line').count()).toBe(2);
    await page.fill('#log-text', '');
    await shot('logs');
  });

  it('shows an opened breaker on the Health page, with its transition', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/downstream?fail=1`)).status).toBe(502);
    expect((await fetch(`${base}/downstream`)).status).toBe(503);
    await page.click('nav a[data-nav="health"]');
    await expect.poll(() => text('#breakers tr[data-breaker="downstream"] td.state'), { timeout: 10_000 }).toBe('open');
    const transition = '#transitions tbody tr[data-kind="breaker"]';
    await expect.poll(() => text(`${transition} td:nth-child(2)`)).toBe('breaker downstream');
    expect(await text(`${transition} td:nth-child(4)`)).toBe('open');
    expect(await text(`${transition} td:nth-child(5)`)).toBe('consecutive_failures');
    await expect.poll(() => page.locator('#checks tr[data-check="circuit_breaker.downstream"] td.status').textContent(), { timeout: 10_000 }).toBe('degraded');
    await shot('health');
  });

  it('shows buffer usage in the header, and the page reported no error', async () => {
    expect(await text('#usage-traces')).toMatch(/^traces \d+\/200$/);
    expect(await text('#usage-logs')).toMatch(/^logs \d+\/2000$/);
    expect(await text('#usage-dropped')).toBe('dropped 0');
    expect(pageErrors).toEqual([]);
  });
});
