/**
 * A node's heartbeat (its seen-entry in the cluster state) does not wait for its round of
 * cluster work. A CI run once found a node, back from SIGKILL, whose first round (a sweep under
 * load) held its heartbeat for 4.5 s, so the others took it for down. Here the joining node's
 * rounds are held by a slow cluster-state store (each read of the transfers document takes
 * 2.5 s), and its heartbeat must stay within the liveness window all along. Its heartbeats also
 * overlap (some writes are held 300 ms): the entry must never go back in epoch, sweep or time.
 */
import {
  beginTransition,
  casDoc,
  createInProcessNetwork,
  createMemoryClusterStateStore,
  decodeState,
  readSeen,
  ringAfter,
  seenKey,
  stageChange,
  STATE_KEY,
  TRANSFERS_KEY,
  type ClusterState,
  type ClusterStateStore,
  type NodeSeen,
  type RingLayout,
} from '@ringkv/core';
import { routeLoadClient as client, settledState, startManagedMember, stopManagedMembers, type ManagedMember } from '@ringkv/test-utils/managed-cluster';
import { afterAll, describe, expect, it, vi } from 'vitest';

const SEED: RingLayout = { strategy: 'ring', members: ['a@h', 'b@h', 'c@h'], n: 3, r: 2, w: 2, vnodes: 64 };
const BUCKETS = Array.from({ length: 8 }, (_, i) => `hb-${i}`);
/** The managed members' heartbeat and liveness window (test-utils' defaults). */
const HEARTBEAT_MS = 100;
const LIVENESS_MS = 1500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('heartbeats on their own timer', () => {
  const members = new Map<string, ManagedMember>();
  afterAll(() => stopManagedMembers(members.values()));

  it('keep a node live while its round of work is held, and never write an older entry over a newer one', async () => {
    const network = createInProcessNetwork();
    const state = createMemoryClusterStateStore();
    const D = 'd@h';
    let slowReads = 0;
    let holding = 0;
    let seenWrites = 0;
    const slow: ClusterStateStore = {
      ...state,
      async get(key) {
        // The first two reads of the transfers document in the stream phase: d's round waits 2.5 s each.
        if (key === TRANSFERS_KEY && slowReads < 2) {
          slowReads++;
          holding++;
          try {
            await sleep(2500);
          } finally {
            holding--;
          }
        }
        return state.get(key);
      },
      async update(key, value, revision) {
        // Every third write of d's seen-entry lands 300 ms late, after the next one started.
        if (key === seenKey(D) && ++seenWrites % 3 === 0) await sleep(300);
        return state.update(key, value, revision);
      },
    };
    for (const name of SEED.members) members.set(name, await startManagedMember(network, state, name, { seed: SEED, batchSize: 5 }));
    const a = members.get('a@h')!.node;
    const acked: Array<[string, string]> = [];
    for (const b of BUCKETS) {
      expect(await a.route(b, 'KV.Registry', 'create', [b])).toBe('ok');
      for (let i = 0; i < 20; i++) {
        expect(await client(a).put(b, `k${i}`, `v-${b}-${i}`)).toBe('OK');
        acked.push([b, `k${i}`]);
      }
    }
    members.set(D, await startManagedMember(network, slow, D, { batchSize: 5 }));

    // Watch d's entry as the others see it: its age while a round is held, and that it only moves forward.
    const history: NodeSeen[] = [];
    let worstHeldAge = 0;
    let heldSamples = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const mine = (await readSeen(state, [D]))[0];
        if (mine) {
          history.push(mine);
          if (holding > 0) {
            heldSamples++;
            worstHeldAge = Math.max(worstHeldAge, Date.now() - mine.at);
          }
        }
        await sleep(20);
      }
    })();

    const committed = await casDoc<ClusterState>(state, STATE_KEY, decodeState, (cur) => {
      const staged = stageChange(cur!, { action: 'join', node: D });
      return beginTransition(staged, ringAfter(SEED, staged.staged), 'join-d');
    });
    expect(committed.changed).toBe(true);
    await vi.waitFor(() => settledState(state, [...SEED.members, D]), { timeout: 40_000, interval: 100 });
    watching = false;
    await watcher;

    for (let i = 1; i < history.length; i++) {
      const [before, after] = [history[i - 1]!, history[i]!];
      expect(after.epoch, `epoch at sample ${i}`).toBeGreaterThanOrEqual(before.epoch);
      expect(after.cleaned ?? 0, `cleaned at sample ${i}`).toBeGreaterThanOrEqual(before.cleaned ?? 0);
      expect(after.at, `time at sample ${i}`).toBeGreaterThanOrEqual(before.at);
    }
    expect(slowReads, 'rounds held').toBe(2);
    expect(heldSamples, 'samples taken while a round was held').toBeGreaterThan(50);
    // Without its own timer the heartbeat waited for the round: 2.5 s and more, past the window.
    expect(worstHeldAge, `heartbeat age while a round was held (heartbeat ${HEARTBEAT_MS} ms)`).toBeLessThan(LIVENESS_MS / 2);
    expect(seenWrites, 'heartbeats written').toBeGreaterThan(30);
    expect(history.at(-1)!.epoch).toBe((await settledState(state)).epoch);

    const d = members.get(D)!.node;
    for (const [b, k] of acked) expect(await client(d).get(b, k)).toBe(`v-${b}-${k.slice(1)}`);
  }, 60_000);
});
