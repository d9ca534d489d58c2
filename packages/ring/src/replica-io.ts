/**
 * What the read path and the write path share: how a replica is reached (itself through the
 * router, the others through the batched replica messages), who stands in for a replica that
 * fails mid-call, how replica answers are checked, and the QuorumError both raise.
 */
import {
  bucketBytes,
  createLogLimiter,
  NodeUnreachableError,
  renderBucket,
  type Logger,
  type LogLimiter,
  type Replica,
  type ReplicaMeta,
  type RouteCall,
  type RouteContext,
  type Sibling,
  type StrategyHost,
  type VersionedObject,
} from '@ringkv/core';
import { QuorumError } from './errors.js';
import type { HybridClock } from './hybrid-clock.js';
import type { AnnotatedPreferenceList } from './preference-list.js';
import { isTransportFailure, type Failure } from './quorum-call.js';
import { APPLY_MESSAGE, versionedObjects, type ReplicaCall } from './replica-messages.js';

export interface ReplicaPathDeps {
  /** The node the strategy is attached to (undefined before attach). */
  host(): StrategyHost | undefined;
  isUp(node: string): boolean;
  /** A request to `node` failed at the connection level (the failure detector listens). */
  suspect(node: string, err: unknown): void;
  clock: HybridClock;
  /** This node's actor, e.g. `a@ringkv#3f9c1d2e`. */
  actor(): string;
  /** Pending while the actor is not known yet (storage is answering its epoch). */
  ready(): Promise<void> | undefined;
  logger(): Logger;
  /** Warnings a peer (or a forger) can cause on every call, rate-limited per kind. */
  limits: LogLimiter;
  /** Sends a replica message (batched per destination when batching is on). */
  send(node: string, type: string, body: unknown, timeoutMs: number): Promise<unknown>;
  /** A coordinator that is a replica asks the others for a digest first (read-digest.ts). @default false */
  digestReads?: boolean;
}

/**
 * The rate-limited log of the replica paths over a logger known only later (the node's, once
 * attached): a forged or broken peer can cause these warnings on every message, so at most 5
 * lines per kind per 10 s are written.
 */
export function createReplicaLimits(logger: () => Logger): LogLimiter {
  return createLogLimiter({
    debug: (m, f) => logger().debug(m, f),
    info: (m, f) => logger().info(m, f),
    warn: (m, f) => logger().warn(m, f),
    error: (m, f) => logger().error(m, f),
  });
}

/** The call as a replica runs it (no path, no options). */
export function replicaCall(call: ReplicaCall): RouteCall {
  return { bucket: call.bucket, mod: call.mod, fun: call.fun, args: call.args, path: [] };
}

/**
 * Runs `call` with replica `meta` on `replica`: here through the router, elsewhere by
 * `ring.apply` (asking for the reply's digest only, with `digest`).
 */
export function applyOn(deps: ReplicaPathDeps, replica: Replica, call: ReplicaCall, meta: ReplicaMeta, ctx: RouteContext, digest = false): Promise<unknown> {
  if (replica.node === ctx.self) return ctx.applyLocal(replicaCall(call), { replica: meta });
  // Two literals, not a spread: the wire encoder walks a literal's own shape fastest.
  const body = digest
    ? { bucket: call.bucket, mod: call.mod, fun: call.fun, args: call.args, meta, digest: true }
    : { bucket: call.bucket, mod: call.mod, fun: call.fun, args: call.args, meta };
  return deps.send(replica.node, APPLY_MESSAGE, body, ctx.timeoutMs);
}

export interface Doubling {
  /** Replicas that may keep an extra hinted copy, in preference order. */
  readonly holders: readonly Replica[];
  /** The extra copies handed out (they do not count toward the quorum). */
  readonly doubled: Set<Replica>;
}

/**
 * Stand-ins for replicas that fail mid-call: the spares of the annotated list, in ring order,
 * each used once. With `doubling`, when none is left (a 3-node ring with N = 3) a live replica
 * of the list keeps an extra hinted copy for the failed node, which does not count toward the
 * quorum but lets hinted handoff bring the failed node up to date when it returns.
 */
export function standIns(apl: Pick<AnnotatedPreferenceList, 'replicas' | 'spares'>, isUp: (node: string) => boolean, doubling?: Doubling): (failed: Replica) => Replica | undefined {
  const taken = new Set(apl.replicas.map((r) => r.node));
  return (failed) => {
    const hintFor = failed.hintFor ?? failed.node;
    const next = apl.spares.find((m) => !taken.has(m) && isUp(m));
    if (next !== undefined) {
      taken.add(next);
      return { node: next, role: 'fallback', hintFor };
    }
    if (!doubling) return undefined;
    const holder = doubling.holders.find(
      (h) => h.node !== failed.node && h.node !== hintFor && isUp(h.node) && ![...doubling.doubled].some((d) => d.node === h.node && d.hintFor === hintFor),
    );
    if (!holder) return undefined;
    const copy: Replica = { node: holder.node, role: 'fallback', hintFor };
    doubling.doubled.add(copy);
    return copy;
  };
}

/** The objects of a versioned reply, or undefined when the reply is not one. */
export function replyObjects(reply: unknown): VersionedObject[] | undefined {
  const objects = versionedObjects(reply);
  return objects ? [...objects] : undefined;
}

/**
 * Drops siblings stamped implausibly far in the future (a forged or broken peer): they are
 * neither merged nor observed. Logs what it dropped, once per call.
 */
export function withoutFutureStamps(objects: VersionedObject[], clock: HybridClock, limits: LogLimiter, from: string): VersionedObject[] {
  let dropped = 0;
  const out = objects.map((o) => {
    if (o.siblings.every((s) => clock.plausible(s.version.ts))) return o;
    const kept = o.siblings.filter((s) => clock.plausible(s.version.ts));
    dropped += o.siblings.length - kept.length;
    return { ...o, siblings: kept };
  });
  if (dropped > 0) limits.warn('future-stamps', `ignored ${dropped} version(s) from ${from} stamped beyond the maximum clock offset`);
  return out;
}

/** Same bucket and key. */
export function sameObject(a: VersionedObject, b: VersionedObject): boolean {
  return bytesEqual(a.key, b.key) && bytesEqual(bucketBytes(a.bucket), bucketBytes(b.bucket));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The greatest plausible timestamp among the objects' siblings (0 for none). */
export function maxStamp(objects: readonly VersionedObject[], clock: HybridClock): number {
  let max = 0;
  for (const o of objects) for (const s of o.siblings as Sibling[]) if (s.version.ts > max && clock.plausible(s.version.ts)) max = s.version.ts;
  return max;
}

export function quorumFailure(
  kind: 'read' | 'write',
  call: RouteCall,
  needed: number,
  answered: number,
  failures: readonly Failure[],
  unplaced: readonly string[],
  hinted = 0,
): Error {
  // A function that throws for its input (bad arguments) throws on every replica: that error
  // is the answer, not a quorum problem.
  const own = failures.find((f) => !isTransportFailure(f.error));
  if (own) return own.error as Error;
  const failed = [
    ...unplaced.map((node) => ({ node, error: { name: 'NodeDown', message: 'suspected down, no live node left to stand in' } })),
    ...failures.map((f) => ({ node: f.replica.node, error: { name: (f.error as Error).name, message: (f.error as Error).message } })),
  ];
  const list = failed.map((f) => `${f.node} (${f.error.name}: ${f.error.message})`).join(', ');
  const applied = kind === 'write' ? writeOutcome(answered, failures, hinted) : undefined;
  return new QuorumError(
    `${kind} quorum not met for ${call.mod}.${call.fun} on ${renderBucket(call.bucket)}: needed ${needed}, ${answered} answered; failed: ${list}${applied ? `; ${applied.text}` : ''}`,
    { needed, answered, failures: failed, mayHaveApplied: applied?.may ?? false },
  );
}

/**
 * Whether a write that missed its quorum may still have been stored: yes once any replica
 * acknowledged it (`acknowledged`, or a hinted copy that does not count toward W), or failed
 * in a way that does not prove it never ran. Only "nobody serves that node" proves that; a
 * timeout or a dropped connection may have come after the replica stored it.
 */
export function writeOutcome(acknowledged: number, failures: readonly Failure[], hinted = 0): { may: boolean; text: string } {
  const unknown = failures.filter((f) => (f.error as Error).name !== NodeUnreachableError.name).length;
  if (acknowledged + hinted === 0 && unknown === 0) return { may: false, text: 'the write was not applied: no replica was reached' };
  const parts = [
    ...(acknowledged > 0 ? [`${acknowledged} ${acknowledged === 1 ? 'replica' : 'replicas'} acknowledged`] : []),
    ...(hinted > 0 ? [`${hinted} hinted ${hinted === 1 ? 'copy' : 'copies'} stored`] : []),
    ...(unknown > 0 ? [`${unknown} did not answer (timed out or lost the connection)`] : []),
  ];
  return { may: true, text: `the write may have been applied: ${parts.join(', ')}` };
}
