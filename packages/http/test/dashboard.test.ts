/**
 * The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core
 * (.ci/run installs chromium). It must load with no console errors and no request leaving the
 * node (no CDN), show every member with its state and load, draw the ring (or the range
 * table), and show transfers' progress moving as the page updates itself. Screenshots go to
 * .test-results/ (a CI artifact, gitignored).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatsSource, Transfer } from '../src/index.js';
import { RANGE_NODES, RING_NODES, startHttpCluster, type HttpCluster } from './cluster-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../.test-results/', import.meta.url));
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let profile = '';
let browser: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`);
  profile = mkdtempSync(join(tmpdir(), 'ringkv-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Opens the dashboard, collecting console errors, page errors and requests to other hosts. */
async function open(base: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`request to another host: ${r.url()}`);
  });
  await page.goto(`${base}/`);
  // Expressions run in the page (as strings: the tests are type-checked without the DOM library).
  await page.waitForFunction('Number(document.body.dataset.updates ?? 0) >= 1', undefined, { timeout: 15_000 });
  return { page, problems };
}

describe('the dashboard in headless Chromium', () => {
  let c: HttpCluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('shows every ring member, the ring, the load, and transfers moving while they run', async () => {
    let done = 5;
    const transfers = (): Transfer[] => [{ from: RING_NODES[0]!, to: RING_NODES[2]!, done, total: 100, unit: 'objects', what: 'ownership handoff' }];
    const source: ClusterStatsSource = { transfers, epoch: () => 2 };
    c = await startHttpCluster('ring', { source });
    for (let i = 0; i < 20; i++) await fetch(`${c.base}/buckets/load/keys/k${i}`, { method: 'PUT', body: new Uint8Array(100) });
    const { page, problems } = await open(c.base);

    const rows = await page.$$eval('#members tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-member'), tr.querySelector('.state')?.textContent]));
    expect(rows).toEqual(RING_NODES.map((n) => [n, 'up']));
    const owners = await page.$$eval('#ring path', (ps) => [...new Set(ps.map((p) => p.getAttribute('data-owner')))].sort());
    expect(owners).toEqual([...RING_NODES].sort());
    const keys = await page.$$eval('#load rect[data-keys]', (rs) => rs.map((r) => Number(r.getAttribute('data-keys'))));
    // N = 3: every member holds every key of the bucket.
    expect(keys).toEqual([20, 20, 20]);
    expect(await page.textContent('#epoch')).toBe('epoch 2');

    const progress = () => page.$eval('#transfers [role=progressbar]', (b) => Number(b.getAttribute('aria-valuenow')));
    expect(await progress()).toBe(5);
    const before = Number(await page.evaluate('document.body.dataset.updates'));
    done = 60;
    await page.waitForFunction(`Number(document.body.dataset.updates) > ${before + 1}`, undefined, { timeout: 15_000 });
    expect(await progress()).toBe(60);
    expect(await page.textContent('#transfers')).toContain('a@http → c@http (ownership handoff): 60 / 100 objects');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'http-dashboard-ring.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it('shows a member going down, and the range table byte ranges', async () => {
    c = await startHttpCluster('range');
    const { page, problems } = await open(c.base);
    const states = () => page.$$eval('#members tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.getAttribute('data-member'), tr.querySelector('.state')?.textContent])));
    expect(await states()).toEqual({ [RANGE_NODES[1]!]: 'up', [RANGE_NODES[0]!]: 'up', 'hang@http': 'down' });
    const ranges = await page.$$eval('#range-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    expect(ranges).toEqual(['0x00 .. 0x7f', '0x80 .. 0xfc', '0xfd .. 0xfd', '0xfe .. 0xff'].map((r, i) => `${r}${[RANGE_NODES[0], RANGE_NODES[1], 'hang@http', RANGE_NODES[1]][i]}`));
    await c.stopStorage(RANGE_NODES[1]!);
    await page.waitForFunction(`document.querySelector('#members tr[data-member="${RANGE_NODES[1]!}"] .state')?.textContent === 'down'`, undefined, { timeout: 15_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'http-dashboard-range.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);
});
