/**
 * The replication coordinator: how the ring runs one routed call, by the kind the function was
 * registered with.
 *
 * - plain: on the first live primary (here, or forwarded there);
 * - write: versioned (the vector read from the replicas, incremented for this node's actor, and
 *   a hybrid timestamp), applied on the N replicas of the preference list, answered once W
 *   acknowledged; a replica that fails is replaced by the next live node holding a hint;
 * - read: asked of R replicas, merged by version vector, concurrent siblings resolved by last
 *   writer wins (unless the caller asks for siblings), stale replicas repaired in the
 *   background, then the plain answer computed here from the merged state.
 */
import {
  ArgumentError,
  bucketBytes,
  increment,
  lastWriterWins,
  mergeSiblings,
  renderBucket,
  UndefinedFunctionError,
  type FunctionKind,
  type Logger,
  type Placement,
  type Replica,
  type ReplicaMeta,
  type RingkvNode,
  type RouteCall,
  type RouteContext,
  type Sibling,
  type VersionedObject,
  type VersionedReply,
  type VersionStamp,
  type VersionVector,
} from '@ringkv/core';
import { QuorumError } from './errors.js';
import type { FailureDetector } from './failure-detector.js';
import type { HybridClock } from './hybrid-clock.js';
import { isTransportFailure, quorumCall, type Answer, type Failure } from './quorum-call.js';
import { APPLY_MESSAGE, hasReplicaModule, isVersionedObject, MERGE_MESSAGE, replicaFn, type ReplicaCall } from './replica-messages.js';
import type { Ring } from './ring.js';

export interface CoordinatorDeps {
  ring: Ring;
  n: number;
  /** The node the strategy is attached to (undefined before attach). */
  node(): RingkvNode | undefined;
  detector(): FailureDetector | undefined;
  clock: HybridClock;
  /** This node's incarnation, e.g. `a@ringkv#3f9c1d2e`. */
  actor(): string;
  logger(): Logger;
}

export interface Coordinator {
  execute(call: RouteCall, placement: Placement, ctx: RouteContext): Promise<unknown>;
}

export function createCoordinator(deps: CoordinatorDeps): Coordinator {
  const isUp = (node: string) => deps.detector()?.isUp(node) ?? true;
  const suspect = (node: string, err: unknown) => deps.detector()?.suspect(node, err);

  async function execute(call: RouteCall, placement: Placement, ctx: RouteContext): Promise<unknown> {
    const first = placement.replicas[0]?.node;
    if (first === undefined) {
      throw new QuorumError(`no live replica for ${renderBucket(call.bucket)}: every node of its preference list is down`, {
        needed: 1,
        answered: 0,
      });
    }
    let kind: FunctionKind;
    try {
      kind = ctx.kindOf(call.mod, call.fun, call.args.length);
    } catch (err) {
      // Not registered here (a server-only node, say): the first live primary coordinates.
      if (err instanceof UndefinedFunctionError && first !== ctx.self && call.path.length === 0) return plainOnFirstLive(first, call, ctx);
      throw err;
    }
    if (kind === 'plain') {
      const forwardedToReplica = call.path.length > 0 && placement.replicas.some((r) => r.node === ctx.self);
      return first === ctx.self || forwardedToReplica ? ctx.applyLocal(call) : plainOnFirstLive(first, call, ctx);
    }
    const quorum = quorumFor(kind, call, placement);
    return kind === 'write' ? write(call, placement, ctx, quorum) : read(call, placement, ctx, quorum);
  }

  /**
   * A call handed whole to the first live primary (plain calls, and calls this node cannot run);
   * if that node turns out unreachable (nothing ran there), the next live one gets it, up to n
   * tries. Timeouts are not retried: the call may have run.
   */
  async function plainOnFirstLive(first: string, call: RouteCall, ctx: RouteContext): Promise<unknown> {
    let target = first;
    for (let attempt = 1; ; attempt++) {
      try {
        return await forward(target, call, ctx);
      } catch (err) {
        if ((err as Error).name !== 'NodeUnreachableError' || attempt >= deps.n) throw err;
        const next = deps.ring.preferenceList(call.bucket, deps.n, isUp)[0]?.node;
        if (next === undefined || next === target) throw err;
        if (next === ctx.self) return ctx.applyLocal(call);
        target = next;
      }
    }
  }

  async function forward(to: string, call: RouteCall, ctx: RouteContext): Promise<unknown> {
    try {
      return await ctx.forward(to, call);
    } catch (err) {
      // A slow function is not a dead node: only connection-level failures count here.
      if (isTransportFailure(err) && (err as Error).name !== 'TimeoutError') suspect(to, err);
      throw err;
    }
  }

  function quorumFor(kind: 'read' | 'write', call: RouteCall, placement: Placement): number {
    const key = kind === 'read' ? 'r' : 'w';
    const asked = call.options?.[key];
    if (asked === undefined) return placement[key];
    if (typeof asked !== 'number' || !Number.isInteger(asked) || asked < 1 || asked > placement.n) {
      throw new ArgumentError(`option ${key} must be an integer from 1 to n (${placement.n}), got ${JSON.stringify(asked)}`);
    }
    return asked;
  }

  /** Sends one replica-level apply (locally when the replica is this node). */
  function applyOn(replica: Replica, call: ReplicaCall, meta: ReplicaMeta, ctx: RouteContext): Promise<unknown> {
    const plain: RouteCall = { bucket: call.bucket, mod: call.mod, fun: call.fun, args: call.args, path: [] };
    if (replica.node === ctx.self) return ctx.applyLocal(plain, { replica: meta });
    return ctx.send(replica.node, APPLY_MESSAGE, { bucket: call.bucket, mod: call.mod, fun: call.fun, args: call.args, meta });
  }

  /**
   * Stand-ins for replicas that fail mid-call: the next live non-primary nodes clockwise. With
   * `doubling`, when none is left (a 3-node ring with N = 3) a live replica of the list keeps
   * an extra hinted copy for the failed node, which does not count toward the quorum but lets
   * hinted handoff bring the failed node up to date when it returns.
   */
  function spares(
    bucket: RouteCall['bucket'],
    used: readonly Replica[],
    doubling?: { holders: readonly Replica[]; doubled: Set<Replica> },
  ): (failed: Replica) => Replica | undefined {
    let order: string[] | undefined;
    const taken = new Set(used.map((r) => r.node));
    return (failed) => {
      order ??= deps.ring.preferenceList(bucket, deps.ring.members.length).map((r) => r.node).slice(deps.n);
      const hintFor = failed.hintFor ?? failed.node;
      const next = order.find((m) => !taken.has(m) && isUp(m));
      if (next !== undefined) {
        taken.add(next);
        return { node: next, role: 'fallback', hintFor };
      }
      if (!doubling) return undefined;
      const holder = doubling.holders.find((h) => h.node !== failed.node && h.node !== hintFor && isUp(h.node) && ![...doubling.doubled].some((d) => d.node === h.node && d.hintFor === hintFor));
      if (!holder) return undefined;
      const copy: Replica = { node: holder.node, role: 'fallback', hintFor };
      doubling.doubled.add(copy);
      return copy;
    };
  }

  async function write(call: RouteCall, placement: Placement, ctx: RouteContext, w: number): Promise<unknown> {
    const context = await versionContext(call, placement, ctx);
    deps.clock.observe(context.maxTs);
    const version: VersionStamp = { vv: increment(context.vv, deps.actor()), ts: deps.clock.now(), actor: deps.actor() };
    const doubling = { holders: placement.replicas, doubled: new Set<Replica>() };
    const replace = spares(call.bucket, placement.replicas, doubling);
    // Primaries already known down with nobody to stand in get a hinted copy on a live replica.
    const extra = unplaced(call, placement).flatMap((down) => replace({ node: down, role: 'primary' }) ?? []);
    const result = await quorumCall<unknown>({
      targets: [...placement.replicas, ...extra],
      need: w,
      counts: (replica) => !doubling.doubled.has(replica),
      send: (replica) =>
        applyOn(replica, call, { mode: 'write', version, ...(replica.hintFor ? { hintFor: replica.hintFor } : {}) }, ctx),
      replace,
      replaceLate: true,
      // Replicas can answer differently (one that lost its data says 'not_found'): wait for agreement or for all.
      enough: (answers) => new Set(answers.map((a) => answerKey(a.value))).size === 1,
      onUnreachable: suspect,
    });
    if (result.answers.length < w) throw quorumFailure('write', call, w, result.answers.length, result.failures, unplaced(call, placement));
    return majorityAnswer(result.answers, placement.replicas);
  }

  /**
   * What a write builds on: the vector joined over what the replicas hold for the objects it
   * touches (read with the module's read function, see {@link contextRead}), so a write
   * dominates every version a read quorum could return. Best effort: replicas that fail are
   * skipped, and the write still goes out (its version is then concurrent, not lost).
   */
  async function versionContext(call: RouteCall, placement: Placement, ctx: RouteContext): Promise<{ vv: VersionVector; maxTs: number }> {
    const node = deps.node();
    const reader = node ? contextRead(node, call) : undefined;
    if (!reader) return { vv: {}, maxTs: 0 };
    const result = await quorumCall<unknown>({
      targets: placement.replicas,
      need: Math.min(placement.r, placement.replicas.length),
      send: (replica) => applyOn(replica, reader, { mode: 'read' }, ctx),
      onUnreachable: suspect,
    });
    let vv: VersionVector = {};
    let maxTs = 0;
    for (const a of result.answers) {
      for (const o of replyObjects(a.value) ?? []) {
        for (const s of o.siblings) {
          vv = mergeVv(vv, s.version.vv);
          if (s.version.ts > maxTs) maxTs = s.version.ts;
        }
      }
    }
    return { vv, maxTs };
  }

  async function read(call: RouteCall, placement: Placement, ctx: RouteContext, r: number): Promise<unknown> {
    const result = await quorumCall<VersionedObject[]>({
      targets: placement.replicas,
      need: r,
      send: async (replica) => {
        const reply = await applyOn(replica, call, { mode: 'read' }, ctx);
        const objects = replyObjects(reply);
        if (!objects) throw new ArgumentError(`${call.mod}.${call.fun} on ${replica.node} did not answer a versioned reply under the ring`);
        return objects;
      },
      replace: spares(call.bucket, placement.replicas),
      onUnreachable: suspect,
    });
    if (result.answers.length < r) throw quorumFailure('read', call, r, result.answers.length, result.failures, unplaced(call, placement));
    const merged = mergeReplies(result.answers);
    for (const o of merged.values()) for (const s of o.siblings) deps.clock.observe(s.version.ts);
    // Repair everyone who answered, late answers included, without holding up the caller.
    void result.all.then((all) => repair(mergeReplies(all), all)).catch((err: unknown) => {
      deps.logger().warn(`read repair for ${renderBucket(call.bucket)} failed: ${(err as Error).message}`);
    });
    const objects = [...merged.values()].map((o) =>
      call.options?.siblings ? o : { ...o, siblings: [lastWriterWins(o.siblings)!].filter(Boolean) },
    );
    return ctx.applyLocal(call, { replica: { mode: 'resolve', objects } });
  }

  async function repair(merged: Map<string, VersionedObject>, answers: readonly Answer<VersionedObject[]>[]): Promise<void> {
    const node = deps.node();
    if (!node) return;
    await Promise.all(
      answers.map(async ({ replica, value }) => {
        const held = new Map(value.map((o) => [objectKey(o), o]));
        const stale = [...merged.entries()].filter(([k, o]) => !sameSiblings(held.get(k)?.siblings ?? [], o.siblings)).map(([, o]) => o);
        if (stale.length === 0) return;
        const hintFor = replica.hintFor ?? null;
        try {
          if (replica.node === node.name) {
            if (hasReplicaModule(node)) await replicaFn(node, 'merge', [stale, hintFor]);
          } else {
            await node.send(replica.node, MERGE_MESSAGE, { objects: stale, hintFor });
          }
        } catch (err) {
          deps.logger().debug(`read repair of ${replica.node} failed: ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Primaries left out of the placement (down, and no live node left to stand in). */
  function unplaced(call: RouteCall, placement: Placement): string[] {
    const covered = new Set(placement.replicas.flatMap((r) => [r.node, ...(r.hintFor ? [r.hintFor] : [])]));
    return deps.ring.preferenceList(call.bucket, deps.n).map((r) => r.node).filter((p) => !covered.has(p));
  }

  return { execute };
}

/**
 * The read function a write's version is read with: in the write's module, the `read`
 * function of the greatest arity not above the write's, called with that many leading
 * arguments (`KV.Bucket.put(b, k, v)` -> `KV.Bucket.get(b, k)`; `KV.Registry.create(b)` ->
 * `KV.Registry.lookup(b)`). None: the write is versioned on its own actor only.
 */
export function contextRead(node: RingkvNode, call: RouteCall): ReplicaCall | undefined {
  const prefix = `${call.mod}.`;
  let best: { fun: string; arity: number } | undefined;
  for (const entry of node.modules.list()) {
    if (!entry.startsWith(prefix)) continue;
    const rest = entry.slice(prefix.length);
    const slash = rest.lastIndexOf('/');
    const fun = rest.slice(0, slash);
    const arityText = rest.slice(slash + 1);
    const arity = arityText === '*' ? call.args.length : Number(arityText);
    if (fun.includes('.') || !(arity <= call.args.length)) continue;
    if (node.modules.lookup(call.mod, fun, arity)?.kind !== 'read') continue;
    if (!best || arity > best.arity || (arity === best.arity && fun < best.fun)) best = { fun, arity };
  }
  return best && { bucket: call.bucket, mod: call.mod, fun: best.fun, args: call.args.slice(0, best.arity) };
}

function replyObjects(reply: unknown): VersionedObject[] | undefined {
  const objects = (reply as VersionedReply | undefined)?.objects;
  return Array.isArray(objects) && objects.every(isVersionedObject) ? [...objects] : undefined;
}

function objectKey(o: VersionedObject): string {
  return `${Buffer.from(bucketBytes(o.bucket)).toString('hex')}/${Buffer.from(o.key).toString('hex')}`;
}

/** Every object any replica returned, its siblings merged across replicas (dominated ones dropped). */
export function mergeReplies(answers: readonly Answer<readonly VersionedObject[]>[]): Map<string, VersionedObject> {
  const merged = new Map<string, VersionedObject>();
  for (const { value } of answers) {
    for (const o of value) {
      const k = objectKey(o);
      const prev = merged.get(k);
      merged.set(k, prev ? { ...prev, siblings: mergeSiblings(prev.siblings, o.siblings) } : { ...o, siblings: mergeSiblings([], o.siblings) });
    }
  }
  return merged;
}

function siblingKey(s: Sibling): string {
  return JSON.stringify([s.version.vv, s.version.ts, s.version.actor, s.tombstone === true]);
}

function sameSiblings(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(siblingKey));
  return b.every((s) => keys.has(siblingKey(s)));
}

function mergeVv(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) if (typeof v === 'number') out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

function answerKey(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  try {
    return `json:${JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bytes:${Buffer.from(x).toString('hex')}` : x))}`;
  } catch {
    return `other:${String(v)}`;
  }
}

/** The answer most replicas gave; a tie goes to the replica earliest in the preference list. */
function majorityAnswer(answers: readonly Answer<unknown>[], order: readonly Replica[]): unknown {
  const counts = new Map<string, { n: number; rank: number; value: unknown }>();
  for (const a of answers) {
    const k = answerKey(a.value);
    const rank = order.findIndex((r) => r.node === a.replica.node);
    const c = counts.get(k);
    if (c) {
      c.n++;
      c.rank = Math.min(c.rank, rank < 0 ? Infinity : rank);
    } else counts.set(k, { n: 1, rank: rank < 0 ? Infinity : rank, value: a.value });
  }
  return [...counts.values()].sort((x, y) => y.n - x.n || x.rank - y.rank)[0]!.value;
}

function quorumFailure(
  kind: 'read' | 'write',
  call: RouteCall,
  needed: number,
  answered: number,
  failures: readonly Failure[],
  unplaced: readonly string[],
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
  return new QuorumError(
    `${kind} quorum not met for ${call.mod}.${call.fun} on ${renderBucket(call.bucket)}: needed ${needed}, ${answered} answered; failed: ${list}`,
    { needed, answered, failures: failed },
  );
}
