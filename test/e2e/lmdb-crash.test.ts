/**
 * Durable storage, tried the way it fails in practice (issue 12 acceptance):
 *
 * - one `ringkv node start` process with the text server on LMDB (default durability); 20
 *   clients write unique keys and record every `OK`; the node is killed with SIGKILL in the
 *   middle of the stream, restarted on the same folder, and every acknowledged key is read
 *   back. Ten rounds in one test, on one growing data folder;
 * - the 3-node ring on LMDB over NATS: 2,000 keys written, all three nodes killed with SIGKILL
 *   and restarted, and every key is read back from every node's own storage, so nothing had
 *   to come back by hinted handoff or read repair.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BUCKETS_MESSAGE, KV_FUNCTIONS, kvCall, remoteRouter, type BucketSummary, type Transport, type VersionedReply } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { describeDistributed, startNatsServer, startNodeProcess, startNodeProcesses, type NodeProcess } from '@ringkv/test-utils';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-lmdb-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const portOf = async (node: NodeProcess) => Number((await node.waitFor(/ready \(.*; port (\d+)\)/))[1]);

/** One connection sending PUTs one at a time, recording the keys answered OK, until stopped or cut. */
function writer(port: number, prefix: string, acked: string[]): { stop(): void; done: Promise<void> } {
  let stopped = false;
  const socket = connect({ port, host: '127.0.0.1' });
  let i = 0;
  let pending = '';
  let buffer = '';
  const next = () => {
    if (stopped) return socket.end();
    pending = `${prefix}-${i++}`;
    socket.write(`PUT crash ${pending} v-${pending}\n`);
  };
  socket.on('connect', next);
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    while (buffer.includes('\r\n')) {
      const line = buffer.slice(0, buffer.indexOf('\r\n'));
      buffer = buffer.slice(line.length + 2);
      if (line !== 'OK') throw new Error(`PUT ${pending} answered ${JSON.stringify(line)}`);
      acked.push(pending);
      next();
    }
  });
  const done = new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
  return { stop: () => (stopped = true), done };
}

/** GETs every key on one connection (pipelined, answers come in order); resolves to the keys whose value is not the one written. */
async function missing(port: number, keys: readonly string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const bad: string[] = [];
  let buffer = '';
  let at = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      // A GET answers "<value>\r\nOK\r\n" (an absent key: "\r\nOK\r\n").
      for (let end = buffer.indexOf('OK\r\n'); end >= 0 && at < keys.length; end = buffer.indexOf('OK\r\n')) {
        const reply = buffer.slice(0, end + 4);
        buffer = buffer.slice(end + 4);
        if (reply !== `v-${keys[at]}\r\nOK\r\n`) bad.push(keys[at]!);
        if (++at === keys.length) resolve();
      }
    });
    socket.write(keys.map((k) => `GET crash ${k}\n`).join(''));
  });
  socket.end();
  return bad;
}

describe('LMDB: a node killed with SIGKILL mid-stream loses no acknowledged write', () => {
  it('ten rounds of write, SIGKILL, restart, read everything back', async () => {
    const config = join(dir, 'solo.json');
    writeFileSync(
      config,
      JSON.stringify({ node: 'solo@ringkv.test', transport: 'in-process', roles: ['server', 'storage'], routingTable: [{ from: 0, to: 255, node: 'solo@ringkv.test' }] }),
    );
    const data = join(dir, 'solo-data');
    const node = await startNodeProcess({ config, args: ['--data-dir', data], env: { PORT: '0' }, readyTimeoutMs: 60_000 });
    const all: string[] = [];
    try {
      let port = await portOf(node);
      expect(node.output()).toContain(`storage: lmdb in ${data}`);
      const create = connect({ port, host: '127.0.0.1' });
      await new Promise<void>((resolve) => create.on('data', () => resolve()).write('CREATE crash\n'));
      create.end();

      for (let round = 0; round < 10; round++) {
        const acked: string[] = [];
        const writers = Array.from({ length: 20 }, (_, w) => writer(port, `r${round}w${w}`, acked));
        // Kill while writes are in flight: after some acknowledgements, at a moment that varies.
        const target = 150 + round * 37;
        const deadline = Date.now() + 20_000;
        while (acked.length < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        await node.kill('SIGKILL');
        await Promise.all(writers.map((w) => w.done));
        expect(acked.length, node.output()).toBeGreaterThanOrEqual(target);
        all.push(...acked);

        await node.restart();
        port = await portOf(node);
        expect(await missing(port, all), `round ${round}`).toEqual([]);
      }
      expect(node.output()).toMatch(/storage: lmdb in .*: \d+ entries/);
    } finally {
      await node.kill('SIGKILL');
    }
  }, 240_000);
});

const dec = new TextDecoder();

describeDistributed('LMDB ring: all three nodes killed with SIGKILL come back with every key', () => {
  it('writes 2,000 keys, kills a, b and c, restarts them, and each holds every key itself', async () => {
    const nats = await startNatsServer();
    let client: Transport | undefined;
    const specs = ['a', 'b', 'c'].map((n) => {
      const source = fileURLToPath(new URL(`../../config/ring/${n}.json`, import.meta.url));
      const config = JSON.parse(readFileSync(source, 'utf8')) as Record<string, unknown>;
      const file = join(dir, `ring-${n}.json`);
      writeFileSync(file, JSON.stringify(config));
      return { config: file, args: ['--data-dir', join(dir, `ring-${n}-data`)], env: { NATS_URL: nats.url, PORT: '0', RINGKV_CONFIG_DIR: dir }, readyTimeoutMs: 60_000 };
    });
    const nodes = await startNodeProcesses(specs);
    try {
      client = await connectNatsTransport({ url: nats.url, name: 'lmdb ring restart test client' });
      const route = (via: string) => remoteRouter(client!, via, { timeoutMs: 9_000 });
      // Spread over 20 buckets: writes to one key wait for each other's flush, different keys
      // and buckets share group commits.
      const keys = Array.from({ length: 2000 }, (_, i) => ({ bucket: `shelf${i % 20}`, key: `item-${i}`, value: `v${i}` }));
      const vias = ['a@ringkv', 'b@ringkv', 'c@ringkv'];
      for (let b = 0; b < 20; b++) expect(await kvCall(route(vias[b % 3]!), 'create', [`shelf${b}`])).toBe('ok');
      for (let i = 0; i < keys.length; i += 100) {
        await Promise.all(keys.slice(i, i + 100).map((k, j) => kvCall(route(vias[j % 3]!), 'put', [k.bucket, k.key, k.value]).then((r) => expect(r).toBe('ok'))));
      }

      // An OK means W = 2 replicas stored the write; the third copy may still be on its way.
      // This test is about what a node has on disk surviving SIGKILL, so it first waits until
      // every node answered its replica write (each holds all 2,000 keys), then for one group
      // commit to reach the disk (default durability flushes each commit within milliseconds).
      await vi.waitFor(
        async () => {
          for (const node of vias) {
            const list = (await client!.request(node, { type: BUCKETS_MESSAGE, body: null }, { timeoutMs: 9_000 })) as BucketSummary[];
            expect(list.reduce((n, b) => n + b.keys, 0), node).toBe(keys.length);
          }
        },
        { timeout: 30_000, interval: 200 },
      );
      await new Promise((r) => setTimeout(r, 500));

      await Promise.all(nodes.nodes.map((n) => n.kill('SIGKILL')));
      await Promise.all(nodes.nodes.map((n) => n.restart()));
      for (const n of nodes.nodes) expect(n.output()).toMatch(/storage: lmdb in .*ring-.-data: \d+ entries/);

      // Replica-level reads: what each node has on its own disk, no coordination, no repair.
      const held = async (node: string, bucket: string, key: string) => {
        const reply = (await client!.request(
          node,
          { type: 'ring.apply', body: { bucket, mod: KV_FUNCTIONS.get.mod, fun: KV_FUNCTIONS.get.fun, args: [bucket, key], meta: { mode: 'read' } } },
          { timeoutMs: 9_000 },
        )) as VersionedReply;
        const siblings = reply.objects.find((o) => o.key.length > 0)?.siblings ?? [];
        return siblings.length === 1 && !siblings[0]!.tombstone ? dec.decode(siblings[0]!.value as Uint8Array) : undefined;
      };
      const absent: string[] = [];
      for (const node of vias) {
        for (let i = 0; i < keys.length; i += 100) {
          await Promise.all(
            keys.slice(i, i + 100).map(async (k) => {
              if ((await held(node, k.bucket, k.key)) !== k.value) absent.push(`${node} ${k.bucket}/${k.key}`);
            }),
          );
        }
      }
      expect(absent.slice(0, 20), `${absent.length} missing`).toEqual([]);
      // And through the coordinator, as a client reads.
      for (let i = 0; i < keys.length; i += 200) {
        const k = keys[i]!;
        expect(await kvCall(route(vias[i % 3]!), 'get', [k.bucket, k.key])).toEqual({ value: new TextEncoder().encode(k.value) });
      }
      // Nothing was handed off: no node held hints for another.
      for (const n of nodes.nodes) expect(n.output()).not.toMatch(/handed off \d+ objects/);
    } finally {
      await client?.close();
      await Promise.all(nodes.nodes.map((n) => n.kill('SIGKILL')));
      await nats.stop();
    }
  }, 240_000);
});
