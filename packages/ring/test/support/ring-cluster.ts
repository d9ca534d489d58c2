/** In-process ring clusters for the coordinator tests: fake versioned stores, manual liveness. */
import { createInProcessNetwork, createModuleRegistry, createNode, type Logger, type RingkvNode } from '@ringkv/core';
import { createRingStrategy, type FailureDetector, type HybridClock, type RingStrategy, type RingStrategyConfig } from '../../src/index.js';
import { createFakeStore, type FakeStore } from './fake-versioned-store.js';

/** A detector the test drives: `down` is who this node believes is down. */
export function manualDetector(self: string, down: Set<string>): FailureDetector {
  const listeners = new Set<(n: string) => void>();
  return {
    isUp: (n) => n === self || !down.has(n),
    suspect: (n) => void (n !== self && down.add(n)),
    alive: (n) => {
      if (down.delete(n)) for (const l of listeners) l(n);
    },
    onUp: (l) => (listeners.add(l), () => listeners.delete(l)),
    down: () => [...down],
    probe: async () => {},
    hello: async () => {},
    start: () => {},
    stop: () => {},
  };
}

export interface TestRing {
  nodes: Map<string, RingkvNode>;
  stores: Map<string, FakeStore>;
  strategies: Map<string, RingStrategy>;
  /** Per node: who it believes is down. */
  down: Map<string, Set<string>>;
  node(name: string): RingkvNode;
  stop(): Promise<void>;
}

export async function startTestRing(
  members: string[],
  config: Partial<RingStrategyConfig> = {},
  options: {
    withoutStore?: string[];
    extraNodes?: string[];
    clockFor?: (node: string) => HybridClock | undefined;
    loggerFor?: (node: string) => Logger | undefined;
  } = {},
): Promise<TestRing> {
  const network = createInProcessNetwork();
  const ring: TestRing = {
    nodes: new Map(),
    stores: new Map(),
    strategies: new Map(),
    down: new Map(),
    node(name) {
      const n = ring.nodes.get(name);
      if (!n) throw new Error(`no node ${name}`);
      return n;
    },
    async stop() {
      await Promise.all(
        [...ring.nodes.values()].map(async (n) => {
          await n.stop();
          await n.transport.close();
        }),
      );
    },
  };
  for (const name of [...members, ...(options.extraNodes ?? [])]) {
    const modules = createModuleRegistry();
    if (!options.withoutStore?.includes(name)) {
      const store = createFakeStore();
      store.register(modules);
      ring.stores.set(name, store);
    }
    const down = new Set<string>();
    ring.down.set(name, down);
    const strategy = createRingStrategy(
      { members, vnodes: 64, ...config },
      {
        detector: () => manualDetector(name, down),
        background: false,
        ...(options.clockFor?.(name) ? { clock: options.clockFor(name)! } : {}),
        ...(options.loggerFor?.(name) ? { logger: options.loggerFor(name)! } : {}),
      },
    );
    ring.strategies.set(name, strategy);
    const node = createNode({ name, transport: network.transport(), strategy, modules, hopTimeoutMs: 1000 });
    ring.nodes.set(name, node);
  }
  await Promise.all([...ring.nodes.values()].map((n) => n.start()));
  return ring;
}
