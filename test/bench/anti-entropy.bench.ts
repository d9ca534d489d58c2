/**
 * Active anti-entropy (issue 14): how long a wiped replica of 100,000 keys takes to converge
 * (three in-process nodes, memory store, no client reads), at the default repair rate limit and
 * unlimited; the bytes that costs next to a full copy; and the CPU anti-entropy takes when the
 * replicas are already in sync (the same idle cluster measured with anti-entropy on and off,
 * interleaved, so the difference is anti-entropy's share).
 */
import { createInProcessNetwork, createModuleRegistry, createNode, type RingkvNode, type VersionedObject } from '@ringkv/core';
import { createRingStrategy, DEFAULT_AAE_MAX_KEYS_PER_SECOND, wireSize, type RingStrategy, type RingStrategyConfig } from '@ringkv/ring';
import { createStore, type Store } from '@ringkv/store';
import type { BenchSection } from './run.js';
import { fmt } from './stats.js';

const MEMBERS = ['a@bench', 'b@bench', 'c@bench'];
const KEYS = 100_000;
const enc = new TextEncoder();

interface Member {
  node: RingkvNode;
  store: Store;
  strategy: RingStrategy;
}

function objects(): VersionedObject[] {
  const bucket = enc.encode('bench');
  const version = (i: number) => ({ vv: { 'w@bench#1': 1 }, ts: 1_000_000 + i, actor: 'w@bench#1' });
  const out: VersionedObject[] = [{ bucket, key: new Uint8Array(0), siblings: [{ value: true, version: version(0) }] }];
  for (let i = 0; i < KEYS; i++)
    out.push({ bucket, key: enc.encode(`key${i}`), siblings: [{ value: enc.encode(`value-${i}-`.padEnd(64, 'x')), version: version(i) }] });
  return out;
}

/** Stores for a, b (full) and c (empty, "wiped"), filled before any node starts. */
async function filledStores(data: VersionedObject[]): Promise<Map<string, Store>> {
  const stores = new Map<string, Store>();
  for (const name of MEMBERS) stores.set(name, await createStore({ backend: 'memory' }));
  await stores.get('a@bench')!.replica.merge(data, null);
  const bucket = enc.encode('bench');
  for (const [field, record] of await stores.get('a@bench')!.backend.entries('versioned', bucket)) {
    await stores.get('b@bench')!.backend.set('versioned', bucket, field, record);
  }
  return stores;
}

async function start(
  stores: Map<string, Store>,
  antiEntropy: RingStrategyConfig['antiEntropy'],
  background: boolean,
): Promise<Map<string, Member>> {
  const network = createInProcessNetwork();
  const members = new Map<string, Member>();
  for (const name of MEMBERS) {
    const store = stores.get(name)!;
    const modules = createModuleRegistry();
    store.register(modules);
    const strategy = createRingStrategy(
      { members: MEMBERS, handoffIntervalMs: 3_600_000, antiEntropy: { intervalMs: 3_600_000, ...antiEntropy } },
      { background },
    );
    const node = createNode({ name, transport: network.transport(), strategy, modules });
    store.attach(node);
    await node.start();
    members.set(name, { node, store, strategy });
  }
  return members;
}

async function stop(members: Map<string, Member>): Promise<void> {
  for (const m of members.values()) {
    await m.node.stop();
    await m.node.transport.close();
    await m.store.close();
  }
}

async function keysOf(store: Store): Promise<number> {
  return (await store.buckets()).reduce((s, b) => s + b.keys, 0);
}

/**
 * Seconds until c holds every key, running rounds on a (c, empty, has no tree to start from:
 * its peers start the exchanges; a pushes to c and finds b in sync).
 */
async function converge(data: VersionedObject[], maxKeysPerSecond: number): Promise<{ seconds: number; bytes: number; buildMs: number }> {
  const stores = await filledStores(data);
  // No background work: the rounds timed here are the only ones, so their bytes are all of it.
  const members = await start(stores, { maxKeysPerSecond }, false);
  try {
    const t0 = performance.now();
    for (const m of members.values()) await m.strategy.antiEntropy()!.ready();
    const buildMs = performance.now() - t0;
    const a = members.get('a@bench')!;
    const c = members.get('c@bench')!;
    const started = performance.now();
    let bytes = 0;
    for (let round = 0; round < 1000 && (await keysOf(c.store)) < KEYS; round++) {
      for (const r of await a.strategy.antiEntropyNow()) bytes += r.bytesSent + r.bytesReceived;
    }
    const seconds = (performance.now() - started) / 1000;
    if ((await keysOf(c.store)) !== KEYS) throw new Error('the wiped replica did not converge');
    return { seconds, bytes, buildMs };
  } finally {
    await stop(members);
  }
}

/** CPU ms per wall second of an idle, in-sync cluster, anti-entropy on (interval `intervalMs`) or off. */
async function idleCpu(data: VersionedObject[], enabled: boolean, intervalMs: number, windowMs: number): Promise<number> {
  const stores = await filledStores(data);
  await stores.get('c@bench')!.replica.merge(data, null);
  const members = await start(stores, { enabled, intervalMs }, true);
  try {
    if (enabled) for (const m of members.values()) await m.strategy.antiEntropy()!.ready();
    // Background rounds at `intervalMs` (the strategies were built with background work on).
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const used = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    if (enabled) {
      const stats = [...members.values()].map((m) => m.strategy.antiEntropyStats());
      if (stats.some((s) => s.exchanges !== s.exchangesInSync)) throw new Error('replicas were not in sync');
    }
    return (used.user + used.system) / 1000 / (wall / 1000);
  } finally {
    await stop(members);
  }
}

export async function run(): Promise<BenchSection> {
  const data = objects();
  const fullCopy = data.reduce(
    (sum, _, i) => (i % 500 === 0 ? sum + wireSize({ objects: data.slice(i, i + 500), hintFor: null }) : sum),
    0,
  );
  const limited = await converge(data, DEFAULT_AAE_MAX_KEYS_PER_SECOND);
  const unlimited = await converge(data, 10_000_000);

  // Interleaved: off, on (1 s), on (default 30 s), twice, best (least disturbed) of each.
  const windowMs = 10_000;
  const cpu = { off: Infinity, on1s: Infinity, on30s: Infinity };
  for (let i = 0; i < 2; i++) {
    cpu.off = Math.min(cpu.off, await idleCpu(data, false, 30_000, windowMs));
    cpu.on1s = Math.min(cpu.on1s, await idleCpu(data, true, 1000, windowMs));
    cpu.on30s = Math.min(cpu.on30s, await idleCpu(data, true, 30_000, windowMs));
  }
  const share = (x: number) => `${fmt(Math.max(0, x - cpu.off) / 10, 2)}%`;

  const markdown = `
Three in-process nodes (memory store, N = 3), one bucket of ${KEYS.toLocaleString('en')} keys with
64-byte values. Node c starts empty ("wiped"), a and b hold everything; anti-entropy rounds run
on a until c holds every key (no client reads). The machine is 2 shared cores with other work running:
times are noisy; the ratios within this table are what counts.

### A wiped replica converging

| repair rate limit | seconds to hold all ${KEYS.toLocaleString('en')} keys | keys / s | bytes exchanged | of a full copy |
|---|---|---|---|---|
| default (${DEFAULT_AAE_MAX_KEYS_PER_SECOND.toLocaleString('en')} keys/s) | ${fmt(limited.seconds, 1)} | ${fmt(KEYS / limited.seconds)} | ${fmt(limited.bytes)} | ${fmt((100 * limited.bytes) / fullCopy, 1)}% |
| unlimited | ${fmt(unlimited.seconds, 1)} | ${fmt(KEYS / unlimited.seconds)} | ${fmt(unlimited.bytes)} | ${fmt((100 * unlimited.bytes) / fullCopy, 1)}% |

A full copy (every object in 500-object merge messages, msgpack) is ${fmt(fullCopy)} bytes.
Building the three nodes' trees from a scan at start took ${fmt(limited.buildMs)} ms
(${fmt((KEYS * 2) / (limited.buildMs / 1000))} objects/s over the two full nodes).

### CPU of anti-entropy when the replicas are in sync

CPU time of the whole process (three nodes) per wall second over ${windowMs / 1000} s of an idle
cluster holding ${KEYS.toLocaleString('en')} keys on every node; "share" is the difference to the same
cluster with anti-entropy off, as a fraction of one core.

| anti-entropy | CPU ms per s | share of one core |
|---|---|---|
| off | ${fmt(cpu.off, 1)} | - |
| on, \`intervalMs\` 1000 | ${fmt(cpu.on1s, 1)} | ${share(cpu.on1s)} |
| on, \`intervalMs\` 30000 (default) | ${fmt(cpu.on30s, 1)} | ${share(cpu.on30s)} |

An in-sync exchange is one request carrying this node's root and one reply carrying the peer's
(87 bytes in test/e2e/ring-anti-entropy.test.ts); between exchanges the trees poll the storage
change log every 200 ms.
`;
  return { title: 'Active anti-entropy', markdown };
}
