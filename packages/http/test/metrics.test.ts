/**
 * /metrics is valid Prometheus text (checked by promtool, from Debian's prometheus package;
 * .ci/run installs it) and carries the numbers the node's parts provide through the stats
 * source: storage, hinted objects, epoch, transfers, anti-entropy.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatsSource } from '../src/index.js';
import { startHttpCluster, type HttpCluster } from './cluster-fixture.js';

/**
 * promtool exits 1 when the text does not parse and 3 for naming advice ("lint"). The advice
 * it gives on prom-client's own process metrics (`nodejs_active_handles_total` is a gauge) is
 * upstream's naming; ours must draw none.
 */
function promtool(text: string): { ok: boolean; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`promtool is not installed (${r.error.message}); .ci/run installs it from Debian's prometheus package`);
  const output = `${r.stdout}${r.stderr}`;
  const advice = output.split('\n').filter((l) => l.trim() !== '');
  const upstreamOnly = advice.every((l) => /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(l));
  return { ok: r.status === 0 || (r.status === 3 && upstreamOnly), output: `exit ${r.status}\n${output}` };
}

describe('/metrics', () => {
  let c: HttpCluster;
  let transferDone = 10;
  const source: ClusterStatsSource = {
    storage: () => ({ buckets: 2, keys: 30, bytes: 4096, hinted: { 'b@http': 7 } }),
    epoch: () => 4,
    transfers: () => [{ from: 'a@http', to: 'b@http', done: transferDone, total: 40 }],
    antiEntropy: () => ({ exchanges: 12, repairs: 3, exchangesFailed: 2, bytesSent: 900, bytesReceived: 700, tombstonesReaped: 5, synced: true }),
  };

  beforeAll(async () => {
    c = await startHttpCluster('ring', { source });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('promtool refuses text that is not Prometheus format (so the check below can fail)', () => {
    expect(promtool('ringkv_calls_total{protocol=http} 1\n').ok).toBe(false);
    expect(promtool('ringkv_ok 1\nringkv_Bad_counter_without_help{x="1"} one\n').ok).toBe(false);
  });

  it('parses as Prometheus text (promtool check metrics) with every family the issue names', async () => {
    await fetch(`${c.base}/buckets/m/keys/k`, { method: 'PUT', body: new TextEncoder().encode('v') });
    await fetch(`${c.base}/buckets/m/keys/k`);
    await fetch(`${c.base}/buckets/m/keys/missing`);
    const res = await fetch(`${c.base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const checked = promtool(text);
    expect(checked.ok, checked.output).toBe(true);
    const sample = (name: string, labels = '') => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(sample('ringkv_calls_total', 'command="KV.Bucket.put",outcome="ok"')).toBe(1);
    expect(sample('ringkv_calls_total', 'command="KV.Bucket.object",outcome="ok"')).toBe(2);
    expect(sample('ringkv_call_duration_seconds_count', 'command="KV.Bucket.object"')).toBe(2);
    expect(sample('ringkv_stored_keys')).toBe(30);
    expect(sample('ringkv_stored_bytes')).toBe(4096);
    expect(sample('ringkv_hinted_objects', 'owner="b@http"')).toBe(7);
    expect(sample('ringkv_ring_epoch')).toBe(4);
    expect(sample('ringkv_transfers_in_progress')).toBe(1);
    expect(sample('ringkv_transfer_progress_ratio', 'from="a@http",to="b@http"')).toBe(0.25);
    expect(sample('ringkv_anti_entropy_repairs')).toBe(3);
    expect(sample('ringkv_anti_entropy_exchanges_failed')).toBe(2);
    expect(sample('ringkv_anti_entropy_bytes', 'direction="sent"')).toBe(900);
    expect(sample('ringkv_anti_entropy_bytes', 'direction="received"')).toBe(700);
    expect(sample('ringkv_anti_entropy_tombstones_reaped')).toBe(5);
    expect(sample('ringkv_anti_entropy_synced')).toBe(1);
    expect(sample('ringkv_members', 'state="up"')).toBe(3);
    expect(sample('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

    // Gauges are read at scrape time.
    transferDone = 30;
    const again = await (await fetch(`${c.base}/metrics`)).text();
    expect(again).toMatch(/^ringkv_transfer_progress_ratio\{from="a@http",to="b@http",node="web@http"\} 0\.75$/m);
  });

  it('leaves out what no part of the node provides (no zero epoch without membership)', async () => {
    const bare = await startHttpCluster('range');
    try {
      const text = await (await fetch(`${bare.base}/metrics`)).text();
      const checked = promtool(text);
      expect(checked.ok, checked.output).toBe(true);
      expect(text).not.toMatch(/^ringkv_ring_epoch/m);
      expect(text).not.toMatch(/^ringkv_anti_entropy/m);
      // The range table has no failure detector: members are known, their state is not.
      expect(text).toMatch(/^ringkv_members\{state="unknown",node="web@http"\} 3$/m);
    } finally {
      await bare.stop();
    }
  });
});
