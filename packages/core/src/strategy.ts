/**
 * A placement strategy answers "where does this bucket live". The router asks it on every
 * call, so a strategy whose configuration changes answers differently on the next call.
 */
import type { BucketName } from './bucket-name.js';
import type { Logger } from './logger.js';
import type { FunctionKind, ModuleRegistry } from './module-registry.js';
import type { VersionVector } from './version-vector.js';

export type ReplicaRole = 'primary' | 'fallback';

export interface Replica {
  readonly node: string;
  readonly role: ReplicaRole;
  /** For a fallback: the primary whose data it holds until handoff. */
  readonly hintFor?: string;
  /** While ownership moves: a new owner that may not hold the bucket yet (writes land anyway). */
  readonly gaining?: boolean;
}

export interface Placement {
  /** Ordered replicas; the first is the owner (range table) or coordinator (ring). */
  readonly replicas: readonly Replica[];
  /** Replication factor, and read/write quorums. The range table answers 1/1/1. */
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /**
   * While ownership moves (ring): the old and the new replica sets. A write is acknowledged
   * only once `w` replicas of EACH group answered (a fallback counts for the node it stands in for).
   */
  readonly quorumGroups?: readonly (readonly string[])[];
}

/** One routing call, as it is forwarded between nodes. */
export interface RouteCall {
  readonly bucket: BucketName;
  readonly mod: string;
  readonly fun: string;
  readonly args: readonly unknown[];
  /** Nodes this call has been forwarded through, oldest first. */
  readonly path: readonly string[];
  /** Per-call options a strategy understands (the ring's `r`, `w`, `siblings`). */
  readonly options?: RouteOptions;
}

export interface RouteOptions {
  /** Read quorum for this call (ring). */
  r?: number;
  /** Write quorum for this call (ring). */
  w?: number;
  /** Return concurrent versions instead of resolving them (ring). */
  siblings?: boolean;
  /** Per-hop timeout for this call, in ms. */
  timeoutMs?: number;
  /**
   * For a write (ring): the version vector of what the caller read (the HTTP API's
   * X-Riak-Vclock). It is joined into the write's version, so the write supersedes exactly
   * those siblings even when the coordinator's own version read did not see them all.
   */
  context?: VersionVector;
  /** The cluster epoch of the node that forwarded the call (managed clusters): a node behind it refreshes first. */
  epoch?: number;
}

/** What the router lends a strategy that coordinates calls itself. */
export interface RouteContext {
  /** This node's name. */
  readonly self: string;
  /** Per-hop timeout in effect for this call. */
  readonly timeoutMs: number;
  /** The declared kind of `mod.fun/arity` on this node (throws UndefinedFunctionError if unknown). */
  kindOf(mod: string, fun: string, arity: number): FunctionKind;
  /** Run the call on this node, with extra context for the function. */
  applyLocal(call: RouteCall, meta?: Record<string, unknown>): Promise<unknown>;
  /** Forward the whole routing call to `node`, which routes it again with its own strategy. */
  forward(node: string, call: RouteCall): Promise<unknown>;
  /** Send a strategy-level message (handled by a handler registered with `node.handle`). */
  send(node: string, type: string, body: unknown, timeoutMs?: number): Promise<unknown>;
}

export interface Strategy {
  /** `range` or `ring` (or a user strategy's name). */
  readonly name: string;
  /** The placement of `bucket`. Throws (e.g. NoEntryError) when it has none. */
  placement(bucket: BucketName): Placement;
  /**
   * Optional: run the call itself (replication). Without it the router applies the default
   * rule: the first replica owns the call; run locally if it is this node, else forward.
   */
  execute?(call: RouteCall, placement: Placement, ctx: RouteContext): Promise<unknown>;
  /** One line for logs and errors. */
  describe(): string;
  /**
   * Optional: the nodes this strategy places buckets on (range table nodes, ring members).
   * Who counts as a member of the cluster, e.g. for relaying change events.
   */
  members?(): readonly string[];
  /**
   * Optional: called when the strategy is installed on a node (at creation or `setStrategy`),
   * to register message handlers (`host.handle`) or start background work (handoff). Returns
   * a function that undoes it, called when the strategy is replaced or the node stops.
   */
  attach?(host: StrategyHost): (() => void | Promise<void>) | void;
}

/**
 * What a strategy sees of the node it is attached to: its name, its functions, its logger, and
 * strategy-level messages. Narrow on purpose (the node implements it; a strategy never needs
 * the router itself), which also keeps this file free of an import of node.ts.
 */
export interface StrategyHost {
  readonly name: string;
  readonly modules: ModuleRegistry;
  readonly logger: Logger;
  /** Serves messages of `type` sent with {@link StrategyHost.send}. */
  handle(type: string, handler: (body: unknown) => unknown): void;
  /** Sends a message of `type` to `node` and waits for its reply. */
  send(node: string, type: string, body: unknown, timeoutMs?: number): Promise<unknown>;
}
