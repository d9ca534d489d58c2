/**
 * Quorum answers that tell the truth (issue 14 item 3), with the real store in one process and
 * no background work (no pings, no handoff, no read repair to hide what a write does): a write
 * that W replicas stored answers `ok` even when the replica it entered through, or another
 * one, restarted empty and lost the bucket's CREATE; the bucket object travels with the write
 * and repairs the replicas that missed it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createInProcessNetwork, createModuleRegistry, createNode, type InProcessNetwork, type RingkvNode, type VersionedReply } from '@ringkv/core';
import { createRingStrategy, type RingStrategy } from '@ringkv/ring';
import { createStore, type Store } from '@ringkv/store';

const A = 'a@truth';
const B = 'b@truth';
const C = 'c@truth';
const MEMBERS = [A, B, C];
const dec = new TextDecoder();

interface Member {
  node: RingkvNode;
  store: Store;
  strategy: RingStrategy;
}

let network: InProcessNetwork;
const members = new Map<string, Member>();

async function start(name: string, store?: Store): Promise<void> {
  const s = store ?? (await createStore({ backend: 'memory' }));
  const modules = createModuleRegistry();
  s.register(modules);
  const strategy = createRingStrategy({ members: MEMBERS, n: 3, r: 2, w: 2 }, { background: false });
  const node = createNode({ name, transport: network.transport(), strategy, modules, hopTimeoutMs: 1000 });
  s.attach(node);
  await node.start();
  members.set(name, { node, store: s, strategy });
  // What its hello ping would do with background work on: the others hear it is up again.
  for (const [other, m] of members) if (other !== name) m.strategy.detector()!.alive(name);
}

async function stop(name: string): Promise<Store> {
  const m = members.get(name)!;
  await m.node.stop();
  await m.node.transport.close();
  members.delete(name);
  return m.store;
}

const route = (via: string, fun: 'create' | 'put' | 'get', args: string[]) =>
  members.get(via)!.node.route(args[0]!, fun === 'create' ? 'KV.Registry' : 'KV.Bucket', fun, args);

/** Whether `node` holds the bucket object itself (a replica-level read, no coordination). */
async function holdsBucket(node: string, bucket: string): Promise<boolean> {
  const via = [...members.keys()].find((m) => m !== node)!;
  const reply = (await members.get(via)!.node.send(node, 'ring.apply', { bucket, mod: 'KV.Registry', fun: 'lookup', args: [bucket], meta: { mode: 'read' } })) as VersionedReply;
  return reply.objects[0]!.siblings.some((s) => !s.tombstone);
}

afterEach(async () => {
  for (const name of [...members.keys()]) await stop(name);
});

describe('one actor per node, a new epoch after data loss (kv679)', () => {
  it('keeps the actor across a restart with the data, takes a new one after losing it, and a write through it wins every later quorum read', async () => {
    network = createInProcessNetwork();
    for (const m of MEMBERS) await start(m);
    await members.get(C)!.strategy.ready();
    const first = members.get(C)!.strategy.actor();
    expect(first).toMatch(/^c@truth#[0-9a-f]{16}$/);
    expect(await route(A, 'create', ['kv679'])).toBe('ok');
    expect(await route(C, 'put', ['kv679', 'k', 'old'])).toBe('ok');
    expect(await route(C, 'put', ['kv679', 'k', 'older-still-newer'])).toBe('ok');

    await start(C, await stop(C)); // same storage: same actor
    await members.get(C)!.strategy.ready();
    expect(members.get(C)!.strategy.actor()).toBe(first);

    await stop(C);
    await start(C); // data lost: new epoch
    await members.get(C)!.strategy.ready();
    const second = members.get(C)!.strategy.actor();
    expect(second).not.toBe(first);
    expect(second).toMatch(/^c@truth#/);
    expect(await route(C, 'put', ['kv679', 'k', 'new'])).toBe('ok');
    for (const via of MEMBERS) expect(dec.decode(((await route(via, 'get', ['kv679', 'k'])) as { value: Uint8Array }).value)).toBe('new');
    // Vectors stay one entry per actor that wrote: at most C's two epochs here.
    const reply = (await members.get(A)!.node.send(B, 'ring.apply', { bucket: 'kv679', mod: 'KV.Bucket', fun: 'get', args: ['kv679', 'k'], meta: { mode: 'read' } })) as VersionedReply;
    const vv = reply.objects[1]!.siblings[0]!.version.vv;
    expect(Object.keys(vv).sort()).toEqual([first, second].sort());
  });
});

describe('quorum answers that tell the truth', () => {
  it('a replica that missed the CREATE is repaired by the next write through any replica', async () => {
    network = createInProcessNetwork();
    for (const m of MEMBERS) await start(m);
    const keep = await stop(C);
    expect(await route(A, 'create', ['fresh'])).toBe('ok');
    await start(C, keep);
    expect(await holdsBucket(C, 'fresh')).toBe(false);
    expect(await route(A, 'put', ['fresh', 'k', 'v'])).toBe('ok');
    expect(await holdsBucket(C, 'fresh')).toBe(true);
    // And through the replica that missed it: it repairs itself in the call, then writes.
    const keepB = await stop(B);
    await start(B, keepB);
    expect(await route(C, 'put', ['fresh', 'k2', 'v2'])).toBe('ok');
    expect(dec.decode(((await route(B, 'get', ['fresh', 'k2'])) as { value: Uint8Array }).value)).toBe('v2');
  });

  it('one node down and one restarted empty: every PUT that two replicas stored answers OK', async () => {
    network = createInProcessNetwork();
    for (const m of MEMBERS) await start(m);
    expect(await route(A, 'create', ['delta'])).toBe('ok');
    expect(await route(A, 'put', ['delta', 'k0', 'old'])).toBe('ok');
    await stop(A);
    await stop(C);
    await start(C); // empty: lost the bucket and k0
    for (const via of [B, C]) {
      expect(await route(via, 'put', ['delta', `k1-${via}`, 'new'])).toBe('ok');
      for (const reader of [B, C]) expect(dec.decode(((await route(reader, 'get', ['delta', `k1-${via}`])) as { value: Uint8Array }).value)).toBe('new');
    }
    expect(await route(C, 'put', ['nope', 'k', 'v'])).toBe('not_found');
  });

  it('two of three restarted empty, all up: PUTs through every node answer OK', async () => {
    network = createInProcessNetwork();
    for (const m of MEMBERS) await start(m);
    expect(await route(A, 'create', ['delta'])).toBe('ok');
    await stop(B);
    await stop(C);
    await start(B);
    await start(C);
    for (const [i, via] of [C, B, A, C].entries()) {
      expect(await route(via, 'put', ['delta', `k${i}`, `v${i}`])).toBe('ok');
      expect(dec.decode(((await route(A, 'get', ['delta', `k${i}`])) as { value: Uint8Array }).value)).toBe(`v${i}`);
    }
    for (const m of MEMBERS) expect(await holdsBucket(m, 'delta')).toBe(true);
  });
});
