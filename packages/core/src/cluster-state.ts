/**
 * Where a managed cluster keeps what every node must agree on: a small key-value store whose
 * every change is a compare-and-set on a revision, and which tells watchers about each change.
 * NATS JetStream KV is the production implementation (`@ringkv/nats`); the in-memory one here
 * serves in-process clusters and tests. Both pass the same contract suite
 * (test/contract/cluster-state-suite.ts).
 *
 * The documents stored in it (the committed layout, the epoch, staged changes, the transition,
 * per-node seen epochs, transfers) are described in cluster-model.ts.
 *
 * @example
 * const store = createMemoryClusterStateStore();
 * const rev = await store.create('cluster.state', new TextEncoder().encode('{}'));
 * await store.update('cluster.state', new TextEncoder().encode('{"epoch":1}'), rev); // next revision
 * await store.update('cluster.state', new TextEncoder().encode('{"epoch":2}'), rev); // RevisionMismatchError
 */
import { ArgumentError, RevisionMismatchError } from './errors.js';
import type { Listener } from './transport.js';

/** One stored value and the revision it was written at (revisions only grow, store-wide). */
export interface StateEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly revision: number;
}

/** What a watcher hears: a new value, or that a key was deleted. */
export type StateChange =
  (StateEntry & { readonly deleted?: false }) | { readonly key: string; readonly revision: number; readonly deleted: true };

export interface ClusterStateStore {
  /** `memory`, `jetstream`. */
  readonly kind: string;
  /** The entry under `key`, or undefined when absent (or deleted). */
  get(key: string): Promise<StateEntry | undefined>;
  /** Stores `value` if `key` is absent; returns its revision. Throws {@link RevisionMismatchError} if present. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Stores `value` if `key` is at `revision`; returns the new revision. Throws {@link RevisionMismatchError} otherwise. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Removes `key` (absent keys are fine). */
  delete(key: string): Promise<void>;
  /** Keys present now that start with `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /**
   * Calls `handler` for every change made after the watch started (not for what is already
   * stored: read that with `get`), in revision order, until the listener is closed.
   */
  watch(handler: (change: StateChange) => void): Promise<Listener>;
  /** Releases what the store holds (connections); the data stays (memory: until dropped). */
  close(): Promise<void>;
}

/** Keys are dot-separated tokens of letters, digits, `_`, `-` and `=` (what JetStream KV accepts). */
export const STATE_KEY_PATTERN = /^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$/;

export function checkStateKey(key: unknown): string {
  if (typeof key !== 'string' || key.length > 512 || !STATE_KEY_PATTERN.test(key)) {
    throw new ArgumentError(
      `cluster state key must be dot-separated tokens of letters, digits, _, - and = (at most 512 characters), got ${JSON.stringify(String(key).slice(0, 80))}`,
    );
  }
  return key;
}

export function checkRevision(revision: unknown): number {
  if (typeof revision !== 'number' || !Number.isInteger(revision) || revision < 1) {
    throw new ArgumentError(`revision must be a positive integer, got ${JSON.stringify(revision)}`);
  }
  return revision;
}

export function checkStateValue(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ArgumentError('cluster state values are bytes (Uint8Array)');
  return value;
}

/**
 * An in-memory store: one per process, shared by the nodes of an in-process cluster. Values are
 * copied in and out, so a caller never changes what another sees.
 */
export function createMemoryClusterStateStore(): ClusterStateStore {
  const entries = new Map<string, { value: Uint8Array; revision: number }>();
  const watchers = new Set<(change: StateChange) => void>();
  let last = 0;

  function notify(change: StateChange): void {
    for (const w of [...watchers]) {
      // Delivered later, like a network watch: a watcher never runs inside the writer's call.
      queueMicrotask(() => {
        if (!watchers.has(w)) return;
        try {
          w(change.deleted ? change : { ...change, value: change.value.slice() });
        } catch {
          // A watcher's failure is its own; the store and other watchers go on.
        }
      });
    }
  }

  function put(key: string, value: Uint8Array): number {
    const revision = ++last;
    entries.set(key, { value: value.slice(), revision });
    notify({ key, value, revision });
    return revision;
  }

  return {
    kind: 'memory',
    async get(key) {
      checkStateKey(key);
      const e = entries.get(key);
      return e ? { key, value: e.value.slice(), revision: e.revision } : undefined;
    },
    async create(key, value) {
      checkStateKey(key);
      checkStateValue(value);
      const e = entries.get(key);
      if (e) throw new RevisionMismatchError(`cluster state key ${key} exists already (revision ${e.revision})`);
      return put(key, value);
    },
    async update(key, value, revision) {
      checkStateKey(key);
      checkStateValue(value);
      checkRevision(revision);
      const e = entries.get(key);
      if (!e || e.revision !== revision) {
        throw new RevisionMismatchError(
          `cluster state key ${key} is at revision ${e?.revision ?? 'none'}, not ${revision}: it changed since it was read`,
        );
      }
      return put(key, value);
    },
    async delete(key) {
      checkStateKey(key);
      if (!entries.delete(key)) return;
      notify({ key, revision: ++last, deleted: true });
    },
    async keys(prefix = '') {
      return [...entries.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
    async watch(handler) {
      if (typeof handler !== 'function') throw new ArgumentError('watch needs a handler function');
      watchers.add(handler);
      return {
        async close() {
          watchers.delete(handler);
        },
      };
    },
    async close() {
      watchers.clear();
    },
  };
}
