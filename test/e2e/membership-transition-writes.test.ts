/**
 * Writes while ring ownership moves (in process, transfers held paused so the transition stays
 * in its write-both/stream phases): they take the one-round-trip path, an old owner versions
 * them, the replica traffic is merges of whole objects (which a transport may resend after a
 * reconnect, unlike a `ring.apply` write), and a write is acknowledged only once W replicas of
 * the old AND W of the new replica set stored it. Resumed, the transfers stream in batches
 * bounded by bytes, and the change settles with every acknowledged write in place.
 */
import {
  beginTransition,
  casDoc,
  createInProcessNetwork,
  createMemoryClusterStateStore,
  decodeState,
  NodeUnreachableError,
  readState,
  ringAfter,
  stageChange,
  STATE_KEY,
  type ClusterState,
  type RingkvNode,
  type RingLayout,
} from '@ringkv/core';
import { createRing, TRANSFER_PULL_MESSAGE, type EpochRingStrategy } from '@ringkv/ring';
import { controlTransfers } from 'ringkv';
import { routeLoadClient as client, settledState, startManagedMember, stopManagedMembers, type ManagedMember } from '@ringkv/test-utils/managed-cluster';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const SEED: RingLayout = { strategy: 'ring', members: ['a@w', 'b@w', 'c@w'], n: 3, r: 2, w: 2, vnodes: 64 };
const AFTER = ['a@w', 'b@w', 'c@w', 'd@w'];
const BUCKETS = Array.from({ length: 24 }, (_, i) => `wb-${i}`);
// Each bucket holds 40 objects of about 530 bytes before the change; a transfer batch aims at
// 2000 bytes, so after a first batch of a whole bucket the next ask for 3 objects.
const PRELOAD = 40;
const BATCH_BYTES = 2000;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Sent {
  from: string;
  to: string;
  type: string;
  body: unknown;
  reply?: unknown;
}

/** Every ring message `node` sends from now on (batches opened into their items); `block` makes chosen destinations unreachable. */
function tap(name: string, node: RingkvNode, sent: Sent[], block: Set<string>): void {
  const send = node.send.bind(node);
  node.send = (to, type, body, t) => {
    if (block.has(to)) return Promise.reject(new NodeUnreachableError(`node ${to} is not reachable (blocked by the test)`));
    if (type === 'ring.batch') for (const [k, b] of (body as { items: [string, unknown][] }).items) sent.push({ from: name, to, type: k, body: b });
    else sent.push({ from: name, to, type, body });
    const entry = sent[sent.length - 1]!;
    return send(to, type, body, t).then((reply) => {
      entry.reply = reply;
      return reply;
    });
  };
}

describe('ring writes while ownership moves', () => {
  const network = createInProcessNetwork();
  const state = createMemoryClusterStateStore();
  const members = new Map<string, ManagedMember>();
  const sent: Sent[] = [];
  const blocked = new Map<string, Set<string>>();
  const oldRing = createRing({ members: SEED.members, vnodes: SEED.vnodes });
  const newRing = createRing({ members: AFTER, vnodes: SEED.vnodes });
  const owners = (ring: typeof oldRing, b: string) => ring.preferenceList(b, 3).map((r) => r.node);
  const actorOf = (name: string) => (members.get(name)!.node.strategy() as EpochRingStrategy).base.actor();
  const startMember = (name: string, seed?: RingLayout) =>
    startManagedMember(network, state, name, {
      ...(seed ? { seed } : {}),
      batchSize: 50,
      batchBytes: BATCH_BYTES,
      timing: { pingIntervalMs: 100, pingTimeoutMs: 500, handoffIntervalMs: 200 },
    });

  beforeAll(async () => {
    for (const name of SEED.members) members.set(name, await startMember(name, SEED));
    const a = members.get('a@w')!.node;
    for (const b of BUCKETS) expect(await a.route(b, 'KV.Registry', 'create', [b])).toBe('ok');
    for (const b of BUCKETS) for (let i = 0; i < PRELOAD; i++) expect(await client(a).put(b, `pre-${i}`, 'p'.repeat(500))).toBe('OK');
    members.set('d@w', await startMember('d@w'));
    // d joins with transfers paused: the transition holds in its write-both and stream phases.
    const committed = await casDoc<ClusterState>(state, STATE_KEY, decodeState, (cur) => {
      const staged = stageChange(cur!, { action: 'join', node: 'd@w' });
      return { ...beginTransition(staged, ringAfter(SEED, staged.staged), 'join-d'), paused: true };
    });
    expect(committed.changed).toBe(true);
    const epoch = committed.doc!.epoch;
    await vi.waitFor(
      async () => {
        for (const m of members.values()) expect(m.agent.epoch()).toBeGreaterThanOrEqual(epoch);
        expect((await readState(state))!.doc.transition?.phase).toBe('stream');
      },
      { timeout: 20_000, interval: 50 },
    );
    for (const [name, m] of members) {
      const block = new Set<string>();
      blocked.set(name, block);
      tap(name, m.node, sent, block);
    }
  }, 60_000);
  afterAll(() => stopManagedMembers(members.values()));

  it('an old owner versions each write and sends it to old and new owners as merges of whole objects; a new owner forwards', async () => {
    const gained = BUCKETS.filter((b) => owners(newRing, b).includes('d@w'));
    expect(gained.length).toBeGreaterThan(0);
    const acked: Array<{ bucket: string; key: string; via: string }> = [];
    for (const bucket of gained) {
      for (const via of ['d@w', owners(oldRing, bucket)[0]!]) {
        const key = `k-${via}`;
        expect(await client(members.get(via)!.node).put(bucket, key, `v-${bucket}-${via}`)).toBe('OK');
        acked.push({ bucket, key, via });
      }
    }
    // No replica write runs a module's write function remotely (ring.apply in write mode):
    // every replica message of these writes is a ring.replicate of whole objects.
    const writes = sent.filter((s) => s.type === 'ring.replicate' || (s.type === 'ring.apply' && (s.body as { meta?: { mode?: string } }).meta?.mode === 'write'));
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((s) => s.type !== 'ring.replicate')).toEqual([]);
    // The new owner sent none: its writes were versioned by an old owner.
    expect(writes.filter((s) => s.from === 'd@w')).toEqual([]);
    const dActor = actorOf('d@w');
    for (const { bucket, key, via } of acked) {
      // Old and new owners end up holding it (the write went to both sets), d included before any streaming.
      await vi.waitFor(
        async () => {
          for (const holder of new Set([...owners(oldRing, bucket), ...owners(newRing, bucket)])) {
            const page = await members.get(holder)!.store.replica.scanBucket(enc.encode(bucket), null, 100);
            const o = page.objects.find((x) => dec.decode(x.key) === key);
            expect(o, `${bucket}/${key} (via ${via}) on ${holder}`).toBeDefined();
            expect(o!.siblings.map((s) => s.version.actor)).not.toContain(dActor);
          }
        },
        { timeout: 5000, interval: 20 },
      );
      for (const m of AFTER) expect(await client(members.get(m)!.node).get(bucket, key), `${bucket}/${key} via ${m}`).toBe(`v-${bucket}-${via}`);
    }
  }, 60_000);

  it('is acknowledged only with W replicas of the old set and W of the new set', async () => {
    // A bucket d gains: the old owner it replaces coordinates the write (it is a replica that
    // held the bucket), and the other two owners serve both sets.
    const bucket = BUCKETS.find((b) => owners(newRing, b).includes('d@w'));
    expect(bucket).toBeDefined();
    const coordinator = owners(oldRing, bucket!).find((m) => !owners(newRing, bucket!).includes(m))!;
    const shared = owners(newRing, bucket!).filter((m) => m !== 'd@w');
    expect(shared.length).toBe(2);
    const c = client(members.get(coordinator)!.node);
    const block = blocked.get(coordinator)!;
    try {
      // The new owner unreachable: W=2 of the old set (the coordinator and either shared node)
      // and of the new set (both shared nodes) still store it.
      block.add('d@w');
      expect(await c.put(bucket!, 'one-down', 'x')).toBe('OK');
      // The new owner and one shared node unreachable: the old set still has W (the coordinator
      // and the other shared node), the new set only one copy. Not acknowledged.
      block.add(shared[0]!);
      await expect(c.put(bucket!, 'two-down', 'x')).rejects.toThrow(/quorum|replicas/i);
    } finally {
      block.clear();
    }
    // Reachable again, the same write is acknowledged.
    await vi.waitFor(async () => expect(await c.put(bucket!, 'two-down', 'y')).toBe('OK'), { timeout: 10_000, interval: 100 });
  }, 60_000);

  it('resumed, the transfers stream in batches bounded by bytes, and the change settles with every write in place', async () => {
    const pullsFrom = sent.length;
    await controlTransfers(state, 'resume');
    const done = await vi.waitFor(() => settledState(state, AFTER), { timeout: 30_000, interval: 100 });
    expect(done.layout.strategy === 'ring' && done.layout.members).toEqual(AFTER);
    const pulls = sent.slice(pullsFrom).filter((s) => s.type === TRANSFER_PULL_MESSAGE);
    expect(pulls.length).toBeGreaterThan(0);
    const limits = pulls.map((p) => (p.body as { limit: number }).limit);
    const bytes = pulls.map((p) => (p.reply as { bytes: number }).bytes).sort((x, y) => x - y);
    // A transfer's first batch asks for batchSize; once one came back, the next asks for what
    // fits the byte aim by that batch's bytes per object (3 of the ~530-byte objects).
    expect(Math.max(...limits)).toBe(50);
    expect(limits.filter((l) => l < 50).length).toBeGreaterThan(limits.length / 2);
    expect(bytes[Math.floor(bytes.length / 2)]).toBeLessThanOrEqual(BATCH_BYTES);
    // Every preloaded object reached every owner (d streamed whole buckets in small batches).
    for (const b of BUCKETS) {
      for (const owner of owners(newRing, b)) {
        const page = await members.get(owner)!.store.replica.scanBucket(enc.encode(b), null, 1000);
        const keys = new Set(page.objects.map((o) => dec.decode(o.key)));
        for (let i = 0; i < PRELOAD; i++) expect(keys.has(`pre-${i}`), `${b}/pre-${i} on ${owner}`).toBe(true);
      }
    }
  }, 60_000);
});
