/**
 * The dashboard during a real join (issue 15): three managed ring nodes (`ringkv node start`
 * processes over a nats-server with JetStream), node a serving HTTP; a fourth node joins through
 * the plan/commit the `ringkv cluster` commands run. In headless Chromium (Debian's chromium,
 * playwright-core) the page shows the transfers' progress moving while data streams to the new
 * node, then the new member and a later epoch. A screenshot taken mid-transfer goes to
 * .test-results/ (a CI artifact).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { kvCall, readState, remoteRouter, type ClusterStateStore, type Transport } from '@ringkv/core';
import { connectClusterStateKv, connectNatsTransport } from '@ringkv/nats';
import { describeDistributed, startNatsServer, startNodeProcess, type NatsServer, type NodeProcess } from '@ringkv/test-utils';
import { commitPlan, controlTransfers, planStaged, stage } from '../src/cluster-admin.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../.test-results/', import.meta.url));
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SEEDS = ['a@dash', 'b@dash', 'c@dash'];
const JOINER = 'd@dash';
const BUCKETS = Array.from({ length: 24 }, (_, i) => `b${i}`);

describeDistributed('the dashboard while a node joins (node processes over NATS)', () => {
  let nats: NatsServer;
  let dir = '';
  let profile = '';
  let browser: BrowserContext;
  let transport: Transport;
  let state: ClusterStateStore;
  const nodes: NodeProcess[] = [];

  const start = async (name: string, http: boolean): Promise<NodeProcess> => {
    const path = join(dir, `${name.split('@')[0]}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        node: name,
        strategy: 'ring',
        roles: ['storage'],
        storage: { backend: 'memory' },
        cluster: { managed: true, heartbeatMs: 200, livenessMs: 2000, transferBatch: 5 },
        ring: { members: SEEDS, n: 3, r: 2, w: 2, vnodes: 64, pingIntervalMs: 200, pingTimeoutMs: 1000 },
        ...(http ? { http: { port: 0 } } : {}),
      }),
    );
    const p = await startNodeProcess({ config: path, env: { NATS_URL: nats.url }, readyTimeoutMs: 60_000 });
    nodes.push(p);
    return p;
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`);
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'ringkv-dash-join-'));
    profile = mkdtempSync(join(tmpdir(), 'ringkv-chromium-join-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
    transport = await connectNatsTransport({ url: nats.url, name: 'dashboard join test' });
    state = await connectClusterStateKv({ url: nats.url, name: 'dashboard join test state' });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await state?.close();
    await transport?.close();
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await nats?.stop();
    for (const d of [profile, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('shows the transfers of a join moving, then the new member and a later epoch', async () => {
    const a = await start(SEEDS[0]!, true);
    await Promise.all([start(SEEDS[1]!, false), start(SEEDS[2]!, false)]);
    const httpPort = Number(/http port (\d+)/.exec(a.output())?.[1]);
    expect(httpPort).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${httpPort}`;
    const route = remoteRouter(transport, SEEDS[0]!, { timeoutMs: 9000 });
    const value = 'x'.repeat(4000);
    for (const b of BUCKETS) {
      await vi.waitFor(async () => expect(await kvCall(route, 'create', [b])).toBe('ok'), { timeout: 20_000, interval: 200 });
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => kvCall(route, 'put', [b, `k${i}`, value])));
      expect(answers.every((x) => x === 'ok')).toBe(true);
    }

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${base}/`);
    await page.waitForFunction('Number(document.body.dataset.updates ?? 0) >= 1', undefined, { timeout: 15_000 });
    const members = () => page.$$eval('#members tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-member')));
    expect(await members()).toEqual(SEEDS);
    const epochBefore = (await readState(state))!.doc.epoch;

    await start(JOINER, false);
    await stage(state, { action: 'join', node: JOINER });
    // The transfers start paused (paused before the plan, which the commit checks the state
    // against) and move in short resumed windows, each followed by a pause and a page refresh:
    // the page is sampled while nothing moves, so a value strictly between 0 and 100 is seen
    // however fast the data streams (a join of this size streams in about a second on a quiet
    // machine, less than the page's refresh).
    await controlTransfers(state, 'pause');
    await planStaged(state, transport);
    await commitPlan(state);
    const committedAt = Date.now();

    const updates = () => page.evaluate('Number(document.body.dataset.updates ?? 0)') as Promise<number>;
    const refreshed = async () => {
      const from = await updates();
      await page.waitForFunction(`Number(document.body.dataset.updates ?? 0) >= ${from + 2}`, undefined, { timeout: 15_000 });
    };
    const bars = () => page.$$eval('#transfers [role=progressbar]', (bs) => bs.map((b) => Number(b.getAttribute('aria-valuenow'))));
    const seen: number[] = [];
    let shot = false;
    let windowMs = 40;
    const deadline = Date.now() + 90_000;
    await vi.waitFor(async () => expect((await readState(state))!.doc.transition).toBeTruthy(), { timeout: 20_000, interval: 100 });
    while (Date.now() < deadline && !shot) {
      await refreshed();
      const now = await bars();
      if (now.length) {
        const mean = now.reduce((x, y) => x + y, 0) / now.length;
        seen.push(mean);
        if (mean > 0 && mean < 100) {
          mkdirSync(ARTIFACTS, { recursive: true });
          await page.screenshot({ path: join(ARTIFACTS, 'http-dashboard-join.png'), fullPage: true });
          shot = true;
          break;
        }
      }
      const s = (await readState(state))!.doc;
      if (!s.transition) break;
      await controlTransfers(state, 'resume');
      await new Promise((r) => setTimeout(r, windowMs));
      await controlTransfers(state, 'pause');
      windowMs = Math.min(windowMs * 2, 1000);
    }
    await controlTransfers(state, 'resume');
    const report = `commit ${Date.now() - committedAt} ms ago; mean progress samples: ${seen.map((v) => v.toFixed(0)).join(', ')}`;
    console.log(report);
    expect(seen.filter((v) => v > 0 && v < 100).length, report).toBeGreaterThan(0);
    // Moving: a later sample differs from an earlier one (the first one, paused, at 0).
    expect(new Set(seen).size, report).toBeGreaterThan(1);
    expect(shot).toBe(true);
    await vi.waitFor(
      async () => {
        const s = (await readState(state))!.doc;
        expect(!s.transition && s.layout.members.includes(JOINER)).toBe(true);
      },
      { timeout: 90_000, interval: 200 },
    );

    // Settled: four members, a later epoch, no transfer left on the page.
    await page.waitForFunction(`document.querySelectorAll('#members tbody tr').length === 4`, undefined, { timeout: 20_000 });
    expect(await members()).toEqual([...SEEDS, JOINER]);
    await page.waitForFunction(`document.querySelectorAll('#transfers [role=progressbar]').length === 0`, undefined, { timeout: 20_000 });
    const epochText = await page.textContent('#epoch');
    expect(Number(/epoch (\d+)/.exec(epochText ?? '')?.[1])).toBeGreaterThan(epochBefore);
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});
