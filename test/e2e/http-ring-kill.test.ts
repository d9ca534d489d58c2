/**
 * The HTTP API on real node processes: three `ringkv node start` nodes from config/ring/*.json
 * over a real nats-server (N = 3, R = 2, W = 2), each serving HTTP (HTTP_PORT=0). Concurrent
 * HTTP writers through two nodes while a third is SIGKILLed and restarted, hostile bytes thrown
 * at the HTTP port meanwhile; then every acknowledged write (204) reads back over HTTP from
 * every node, and the restarted node's /metrics and dashboard data show it back up.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeDistributed, startNatsServer, startNodeProcesses, type NatsServer, type NodeProcesses } from '@ringkv/test-utils';

const NAMES = ['a@ringkv', 'b@ringkv', 'c@ringkv'];
const enc = new TextEncoder();

/** Raw bytes to an HTTP port; resolves to what came back before the server hung up (or 2 s). */
function hostile(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
    socket.on('connect', () => socket.write(bytes));
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}

describeDistributed('HTTP API on 3 ring node processes over NATS: SIGKILL and restart under load', () => {
  let nats: NatsServer;
  let dir: string;
  let nodes: NodeProcesses;
  const port = new Map<string, number>();
  const base = (name: string) => `http://127.0.0.1:${port.get(name)!}`;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'ringkv-http-kill-'));
    const specs = ['a', 'b', 'c'].map((n) => {
      const source = fileURLToPath(new URL(`../../config/ring/${n}.json`, import.meta.url));
      const config = JSON.parse(readFileSync(source, 'utf8')) as { ring: Record<string, unknown> };
      config.ring = { ...config.ring, r: 2, w: 2 };
      const file = join(dir, `${n}.json`);
      writeFileSync(file, JSON.stringify(config));
      return { config: file, env: { NATS_URL: nats.url, PORT: '0', HTTP_PORT: '0', RINGKV_CONFIG_DIR: dir } };
    });
    nodes = await startNodeProcesses(specs);
    for (const name of NAMES) {
      const m = nodes.byName(name).output().match(/http port (\d+)/);
      expect(m, nodes.output()).not.toBeNull();
      port.set(name, Number(m![1]));
    }
  }, 60_000);

  afterAll(async () => {
    await nodes?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('loses no acknowledged write, answers hostile bytes with 4xx, and shows the node back up', async () => {
    /** Every write answered 204: key -> value. */
    const acknowledged = new Map<string, string>();
    let failed = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        const key = `w${w}-k${i}`;
        const value = `v${i}-${'x'.repeat(i % 50)}`;
        const via = NAMES[w % 2]!; // a and b coordinate; c is the one killed
        try {
          const r = await fetch(`${base(via)}/buckets/load/keys/${key}`, { method: 'PUT', body: enc.encode(value), headers: { 'content-type': 'text/plain' } });
          if (r.status === 204) acknowledged.set(key, value);
          else failed++;
          await r.arrayBuffer();
        } catch {
          failed++;
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await vi.waitFor(() => expect(acknowledged.size).toBeGreaterThan(100), { timeout: 30_000, interval: 50 });

    const c = nodes.byName('c@ringkv');
    await c.kill('SIGKILL');
    // Hostile input at a live node's HTTP port while it carries the load.
    const answers = await Promise.all([
      hostile(port.get('a@ringkv')!, 'GARBAGE\r\n\r\n'),
      hostile(port.get('a@ringkv')!, `GET /buckets/${'x'.repeat(40_000)}/keys/k HTTP/1.1\r\nHost: a\r\n\r\n`),
      hostile(port.get('a@ringkv')!, 'PUT /buckets/load/keys/k HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\nabc'),
      hostile(port.get('a@ringkv')!, 'GET /buckets/%ZZ/keys/k HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'),
    ]);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 400/);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 431/);
    expect(answers[2]).toMatch(/^HTTP\/1\.1 413/);
    expect(answers[3]).toMatch(/^HTTP\/1\.1 400[\s\S]*bad percent-encoding in the bucket name/);
    const during = acknowledged.size;
    await vi.waitFor(() => expect(acknowledged.size).toBeGreaterThan(during + 100), { timeout: 30_000, interval: 50 });

    await c.restart();
    port.set('c@ringkv', Number(c.output().match(/http port (\d+)(?![\s\S]*http port)/)![1]));
    stop = true;
    await Promise.all(writers);
    expect(acknowledged.size).toBeGreaterThan(200);

    // Every acknowledged write reads back over HTTP, through every node (R = 2: c, restarted
    // empty, is repaired by handoff and read repair; a read needs two replicas).
    for (const via of NAMES) {
      const wrong: string[] = [];
      const entries = [...acknowledged];
      for (let i = 0; i < entries.length; i += 25) {
        await Promise.all(
          entries.slice(i, i + 25).map(async ([key, value]) => {
            const r = await fetch(`${base(via)}/buckets/load/keys/${key}`);
            const text = await r.text();
            if (r.status !== 200 || text !== value || r.headers.get('content-type') !== 'text/plain') wrong.push(`${key}: ${r.status} ${text.slice(0, 60)}`);
          }),
        );
      }
      expect(wrong, `via ${via}`).toEqual([]);
    }

    // The restarted node sees its peers up again, and its own metrics count the reads it served.
    await vi.waitFor(async () => {
      const view = (await (await fetch(`${base('c@ringkv')}/cluster`)).json()) as { members: { name: string; state: string }[] };
      expect(view.members.map((m) => `${m.name}:${m.state}`)).toEqual(NAMES.map((n) => `${n}:up`));
    }, { timeout: 20_000, interval: 250 });
    const metrics = await (await fetch(`${base('c@ringkv')}/metrics`)).text();
    expect(metrics).toMatch(/^ringkv_calls_total\{protocol="http",command="KV.Bucket.object",outcome="ok",node="c@ringkv"\} [1-9]/m);
    expect(metrics).toMatch(/^ringkv_members\{state="up",node="c@ringkv"\} 3$/m);
    process.stderr.write(`http-ring-kill: ${acknowledged.size} writes acknowledged, ${failed} failed (not acknowledged, not checked)\n`);
  }, 180_000);
});
