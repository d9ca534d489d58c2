/**
 * A receiving node whose cluster-state store fails mid-transfer (as a JetStream KV call does
 * while the nats-server restarts) keeps running: the transfer stops, stays claimed, resumes
 * from its cursor on the next tick, and the join finishes with every acknowledged write
 * readable. The membership test over NATS once saw the joining node exit on an unhandled
 * rejection here, and its transfers stay "running" for good.
 */
import {
  beginTransition,
  casDoc,
  createInProcessNetwork,
  createMemoryClusterStateStore,
  decodeState,
  readState,
  ringAfter,
  stageChange,
  STATE_KEY,
  TRANSFERS_KEY,
  TransportError,
  type ClusterState,
  type ClusterStateStore,
  type RingLayout,
} from '@ringkv/core';
import { routeLoadClient as client, settledState, startManagedMember, stopManagedMembers, type ManagedMember } from '@ringkv/test-utils/managed-cluster';
import { afterAll, describe, expect, it, vi } from 'vitest';

const SEED: RingLayout = { strategy: 'ring', members: ['a@f', 'b@f', 'c@f'], n: 3, r: 2, w: 2, vnodes: 64 };
const BUCKETS = Array.from({ length: 12 }, (_, i) => `fl-${i}`);

describe('a transfer whose cluster-state writes fail', () => {
  const members = new Map<string, ManagedMember>();
  afterAll(() => stopManagedMembers(members.values()));

  it('does not take the receiving node down: the transfer resumes and the join finishes', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const network = createInProcessNetwork();
      const state = createMemoryClusterStateStore();
      // d's view of the store: after its first claim, its next updates of the transfers
      // document fail, as a KV update does while the server is away.
      let transferUpdates = 0;
      let failed = 0;
      const flaky: ClusterStateStore = {
        ...state,
        async update(key, value, revision) {
          if (key === TRANSFERS_KEY && ++transferUpdates > 1 && failed < 4) {
            failed++;
            throw new TransportError(`cluster state ${key}: TIMEOUT (injected by the test)`);
          }
          return state.update(key, value, revision);
        },
      };
      const timing = { pingIntervalMs: 100, pingTimeoutMs: 500, handoffIntervalMs: 200 };
      for (const name of SEED.members) members.set(name, await startManagedMember(network, state, name, { seed: SEED, batchSize: 10, timing }));
      const a = members.get('a@f')!.node;
      const acked: Array<[string, string]> = [];
      for (const b of BUCKETS) {
        expect(await a.route(b, 'KV.Registry', 'create', [b])).toBe('ok');
        for (let i = 0; i < 30; i++) {
          expect(await client(a).put(b, `k${i}`, `v-${b}-${i}`)).toBe('OK');
          acked.push([b, `k${i}`]);
        }
      }
      members.set('d@f', await startManagedMember(network, flaky, 'd@f', { batchSize: 10, timing }));
      const committed = await casDoc<ClusterState>(state, STATE_KEY, decodeState, (cur) => {
        const staged = stageChange(cur!, { action: 'join', node: 'd@f' });
        return beginTransition(staged, ringAfter(SEED, staged.staged), 'join-d');
      });
      expect(committed.changed).toBe(true);
      await vi.waitFor(() => settledState(state, [...SEED.members, 'd@f']), { timeout: 30_000, interval: 100 });
      expect(failed, 'injected failures').toBe(4);
      expect((await readState(state))!.doc.layout.members).toContain('d@f');
      const d = members.get('d@f')!.node;
      for (const [b, k] of acked) expect(await client(d).get(b, k)).toBe(`v-${b}-${k.slice(1)}`);
      expect(unhandled.map(String)).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  }, 60_000);
});
