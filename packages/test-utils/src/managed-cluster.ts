/**
 * Managed-cluster members in one process (in-process transport, memory stores, a shared
 * cluster-state store), as the membership tests and bench run them: a node, its store and its
 * membership agent, a load client that routes through the node, and the "settled" check.
 */
import {
  createModuleRegistry,
  createNode,
  readSeen,
  readState,
  type ClusterLayout,
  type ClusterState,
  type ClusterStateStore,
  type InProcessNetwork,
  type RingkvNode,
} from '@ringkv/core';
import { createMembershipAgent, type EpochRingView, type MembershipAgent } from '@ringkv/ring';
import { createStore, type Store } from '@ringkv/store';
import type { LoadClient } from './cluster-load.js';

export interface ManagedMember {
  node: RingkvNode;
  store: Store;
  agent: MembershipAgent;
}

export interface ManagedMemberOptions {
  /** The layout a first node seeds the cluster with. */
  seed?: ClusterLayout;
  heartbeatMs?: number;
  livenessMs?: number;
  batchSize?: number;
  batchBytes?: number;
  timing?: EpochRingView['timing'];
}

export async function startManagedMember(
  network: InProcessNetwork,
  state: ClusterStateStore,
  name: string,
  options: ManagedMemberOptions = {},
): Promise<ManagedMember> {
  const store = await createStore({ backend: 'memory' });
  const modules = createModuleRegistry();
  store.register(modules);
  const node = createNode({ name, transport: network.transport(), modules, hopTimeoutMs: 2000 });
  store.attach(node);
  const agent = createMembershipAgent({
    node,
    store: state,
    storage: true,
    heartbeatMs: options.heartbeatMs ?? 100,
    livenessMs: options.livenessMs ?? 1500,
    ...(options.seed ? { seed: options.seed } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.batchBytes ? { batchBytes: options.batchBytes } : {}),
    ...(options.timing ? { timing: options.timing } : {}),
  });
  await agent.start();
  await node.start();
  return { node, store, agent };
}

export async function stopManagedMembers(members: Iterable<ManagedMember>): Promise<void> {
  for (const m of members) {
    await m.agent.stop();
    await m.node.stop();
    await m.store.close();
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A load client routing KV puts and gets through `node` (answers as the text protocol would: `OK`, the value, `nil`). */
export function routeLoadClient(node: RingkvNode): LoadClient {
  return {
    async put(bucket, key, value) {
      const r = await node.route(bucket, 'KV.Bucket', 'put', [bucket, enc.encode(key), enc.encode(value)]);
      return r === 'ok' ? 'OK' : String(r);
    },
    async get(bucket, key) {
      const r = (await node.route(bucket, 'KV.Bucket', 'get', [bucket, enc.encode(key)])) as { value: Uint8Array | null } | string;
      return typeof r === 'object' && r.value ? dec.decode(r.value) : String(typeof r === 'object' ? 'nil' : r);
    },
  };
}

/**
 * The state once no transition runs and every node that reports (or every one of `members`)
 * acknowledged the current epoch and cleaned up after it; throws, saying what is missing, before.
 */
export async function settledState(state: ClusterStateStore, members?: readonly string[]): Promise<ClusterState> {
  const s = (await readState(state))!.doc;
  if (s.transition) throw new Error(`transition ${s.transition.id} in phase ${s.transition.phase} (epoch ${s.epoch})`);
  const seen = await readSeen(state, members);
  const names = members ?? seen.map((x) => x.node);
  const behind = names.filter((m) => !seen.some((x) => x.node === m && x.epoch === s.epoch && (x.cleaned ?? 0) >= s.epoch));
  if (behind.length > 0) throw new Error(`not settled on ${behind.join(', ')}`);
  return s;
}
