/**
 * The read path: ask the replicas with `{ mode: 'read' }`, settle after R versioned replies,
 * merge them per object (dominated versions dropped), resolve concurrent siblings by last
 * writer wins unless the caller asked for siblings, and let the read function compute its
 * plain answer from the merged state (`{ mode: 'resolve' }`). Every replica that answered, late
 * ones included, is then repaired in the background with what it lacked. A coordinator that is
 * itself a replica asks the others for a digest of their copy first, and reads in full only
 * those whose digest differs from its own (read-digest.ts).
 */
import {
  ArgumentError,
  bucketBytes,
  compareVectors,
  lastWriterWins,
  mergeSiblings,
  renderBucket,
  type RouteCall,
  type RouteContext,
  type Replica,
  type Sibling,
  type StrategyHost,
  type VersionedObject,
} from '@ringkv/core';
import { refIdOf } from './anti-entropy/object-digest.js';
import { digestOf, sameDigest, versionDigest, type VersionDigest } from './read-digest.js';
import type { AnnotatedPreferenceList } from './preference-list.js';
import { quorumCall, type Answer } from './quorum-call.js';
import { applyOn, quorumFailure, replyObjects, standIns, withoutFutureStamps, type ReplicaPathDeps } from './replica-io.js';
import { hasReplicaModule, MERGE_MESSAGE, replicaFn } from './replica-messages.js';

/** This node's copy of what a read asks, when it is one of the replicas (digest reads). */
interface OwnCopy {
  readonly replica: Replica;
  readonly objects: VersionedObject[];
  readonly digest: VersionDigest;
}

export interface ReadPath {
  read(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, r: number): Promise<unknown>;
}

export function createReadPath(deps: ReplicaPathDeps): ReadPath {
  /** A replica's versioned reply, checked, without versions stamped implausibly far ahead. */
  function objectsOf(call: RouteCall, replica: Replica, reply: unknown): VersionedObject[] {
    const objects = replyObjects(reply);
    if (!objects) throw new ArgumentError(`${call.mod}.${call.fun} on ${replica.node} did not answer a versioned reply under the ring`);
    return withoutFutureStamps(objects, deps.clock, deps.limits, replica.node);
  }

  /**
   * Digest reads (read-digest.ts): this node's own copy and its digest, when this node is a
   * replica of the call and could read it. Undefined otherwise: the quorum call then asks
   * everyone in full, this node included, and records a local failure as its own.
   */
  async function ownCopy(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext): Promise<OwnCopy | undefined> {
    const replica = apl.replicas.find((x) => x.node === ctx.self);
    if (!replica) return undefined;
    try {
      const objects = objectsOf(call, replica, await applyOn(deps, replica, call, { mode: 'read' }, ctx));
      return { replica, objects, digest: versionDigest(objects) };
    } catch {
      return undefined;
    }
  }

  async function read(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, r: number): Promise<unknown> {
    const own = deps.digestReads ? await ownCopy(call, apl, ctx) : undefined;
    const result = await quorumCall<VersionedObject[]>({
      targets: apl.replicas,
      need: r,
      send: async (replica) => {
        if (own) {
          // A replica whose digest matches answers with this node's objects, the same array.
          if (replica === own.replica) return own.objects;
          const reply = await applyOn(deps, replica, call, { mode: 'read' }, ctx, true);
          const theirs = digestOf(reply);
          if (theirs && sameDigest(theirs, own.digest)) return own.objects;
          // A node that does not know digests answered in full. One whose digest differs, or
          // that answered neither a digest nor objects, is read in full.
          if (!theirs && replyObjects(reply)) return objectsOf(call, replica, reply);
        }
        return objectsOf(call, replica, await applyOn(deps, replica, call, { mode: 'read' }, ctx));
      },
      replace: standIns(apl, deps.isUp),
      onUnreachable: deps.suspect,
    });
    if (result.answers.length < r) throw quorumFailure('read', call, r, result.answers.length, result.failures, apl.unplaced);
    // Each reply's objects are named once (bucket and key as one string), for the merge and the repair.
    const keys = new Map<readonly VersionedObject[], string[]>();
    const keysOf = (objects: readonly VersionedObject[]): string[] => {
      let k = keys.get(objects);
      if (k === undefined) keys.set(objects, (k = objects.map(objectKey)));
      return k;
    };
    // Replicas whose digest matched share one reply array: each array is merged once.
    const merging: (readonly VersionedObject[])[] = [];
    const merged = mergeReplies(firstOfEach(result.answers, merging), new Map(), keysOf);
    for (const o of merged.values()) for (const s of o.siblings) deps.clock.observe(s.version.ts);
    // Repair everyone who answered, late answers included, without holding up the caller: only
    // the late answers are merged into what the first ones gave. Nothing to do when every
    // replica's digest matched this node's copy.
    void result.all
      .then((all) => {
        if (own && all.every((a) => a.value === own.objects)) return;
        const late = firstOfEach(all, merging);
        return repair(late.length === 0 ? merged : mergeReplies(late, new Map(merged), keysOf), all, keysOf, ctx);
      })
      .catch((err: unknown) => {
        deps.limits.warn('read-repair', `read repair for ${renderBucket(call.bucket)} failed: ${(err as Error).message}`);
      });
    const objects = [...merged.values()].map((o) =>
      call.options?.siblings ? o : { ...o, siblings: [lastWriterWins(o.siblings)!].filter(Boolean) },
    );
    return ctx.applyLocal(call, { replica: { mode: 'resolve', objects } });
  }

  /** Sends every replica that answered what it lacks of the merged objects (nothing, usually). */
  async function repair(
    merged: Map<string, VersionedObject>,
    answers: readonly Answer<VersionedObject[]>[],
    keysOf: (objects: readonly VersionedObject[]) => string[],
    ctx: RouteContext,
  ): Promise<void> {
    const host = deps.host();
    if (!host) return;
    const sends: Promise<void>[] = [];
    // Replicas whose digest matched share one reply array: what it lacks is worked out once.
    const lacks = new Map<readonly VersionedObject[], VersionedObject[]>();
    for (const { replica, value } of answers) {
      let stale = lacks.get(value);
      if (stale === undefined) lacks.set(value, (stale = staleIn(value, keysOf(value), merged)));
      if (stale.length > 0) sends.push(repairOne(host, replica, stale, ctx));
    }
    await Promise.all(sends);
  }

  async function repairOne(host: StrategyHost, replica: Replica, stale: VersionedObject[], ctx: RouteContext): Promise<void> {
    const hintFor = replica.hintFor ?? null;
    try {
      if (replica.node === host.name) {
        if (hasReplicaModule(host)) await replicaFn(host, 'merge', [stale, hintFor]);
      } else {
        await deps.send(replica.node, MERGE_MESSAGE, { objects: stale, hintFor }, ctx.timeoutMs);
      }
    } catch (err) {
      deps.logger().debug(`read repair of ${replica.node} failed: ${(err as Error).message}`);
    }
  }

  return { read };
}

/** (bucket, key) as one string: the object's ref id (length-prefixed latin1, so pairs never collide). */
function objectKey(o: VersionedObject): string {
  return refIdOf(bucketBytes(o.bucket), o.key);
}

/**
 * Every object any replica returned, its siblings merged across replicas (dominated ones
 * dropped), folded into `merged` (a fresh map by default; the caller's otherwise). `keysOf`
 * names a reply's objects (by default computed here).
 */
export function mergeReplies(
  answers: readonly Answer<readonly VersionedObject[]>[],
  merged = new Map<string, VersionedObject>(),
  keysOf: (objects: readonly VersionedObject[]) => string[] = (objects) => objects.map(objectKey),
): Map<string, VersionedObject> {
  for (const { value } of answers) {
    const keys = keysOf(value);
    for (let i = 0; i < value.length; i++) {
      const o = value[i]!;
      const k = keys[i]!;
      const prev = merged.get(k);
      // A reply's object with at most one sibling is already in merged form: kept as it is.
      if (prev) merged.set(k, { ...prev, siblings: mergeSiblings(prev.siblings, o.siblings) });
      else merged.set(k, o.siblings.length <= 1 ? o : { ...o, siblings: mergeSiblings([], o.siblings) });
    }
  }
  return merged;
}

/**
 * The answers whose reply array is not in `seen` (nor an earlier answer's), each array added to
 * `seen`: replicas whose digest matched answer with the same array, merged once.
 */
function firstOfEach(answers: readonly Answer<VersionedObject[]>[], seen: (readonly VersionedObject[])[]): Answer<VersionedObject[]>[] {
  const out: Answer<VersionedObject[]>[] = [];
  for (const a of answers) {
    if (seen.includes(a.value)) continue;
    seen.push(a.value);
    out.push(a);
  }
  return out;
}

/** The merged objects a replica's reply (`held`, named by `keys`) does not hold exactly. */
function staleIn(
  held: readonly VersionedObject[],
  keys: readonly string[],
  merged: ReadonlyMap<string, VersionedObject>,
): VersionedObject[] {
  // A reply names one or two objects (a key and its bucket) almost always: a scan, not a map.
  const index = keys.length > 8 ? new Map(keys.map((k, i) => [k, i])) : undefined;
  const stale: VersionedObject[] = [];
  for (const [k, o] of merged) {
    const i = index ? (index.get(k) ?? -1) : keys.lastIndexOf(k);
    if (!sameSiblings(i < 0 ? [] : held[i]!.siblings, o.siblings)) stale.push(o);
  }
  return stale;
}

function sameVersion(x: Sibling, y: Sibling): boolean {
  return (
    x.version.ts === y.version.ts &&
    x.version.actor === y.version.actor &&
    (x.tombstone === true) === (y.tombstone === true) &&
    compareVectors(x.version.vv, y.version.vv) === 'equal'
  );
}

function sameSiblings(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  if (a.length !== b.length) return false;
  return b.every((s) => a.some((t) => sameVersion(s, t)));
}
