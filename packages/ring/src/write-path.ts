/**
 * The write path, in one round trip (as Riak's coordinating vnode does it):
 *
 * 1. The call runs on a replica of the bucket: the node that received it when it is one,
 *    otherwise it is forwarded to the first live replica.
 * 2. That replica, under the lock of the key the write touches, reads what it holds for it
 *    (the module's read function, see {@link contextRead}), increments the joined vector for
 *    its actor, stamps it with its hybrid clock, applies the write locally, and reads the
 *    resulting objects back.
 * 3. It sends those objects to the other replicas (`ring.replicate`), which merge them and
 *    answer the versions they hold that the objects do not cover. The write is acknowledged
 *    once W replicas (itself included) stored it.
 * 4. If an acknowledging replica held a version the coordinator had not seen (it missed an
 *    acknowledged write, or a write through another coordinator raced it), the coordinator
 *    merges it and versions the write once more on top of everything, and sends that: an
 *    acknowledged write always dominates every write acknowledged before it started (write
 *    quorums intersect), as the old read-before-write did, but the read costs a second round
 *    trip only when the coordinator was behind. Truly concurrent writes stay siblings.
 *
 * Objects travel whole (the bucket object of `KV.Bucket.put` included, since its read reads
 * it), so a replica that missed a bucket's CREATE is repaired by the next write.
 *
 * While ownership moves (the placement carries `quorumGroups`: the old and the new replica
 * set), the objects go to the owners of both, and the write is acknowledged once W replicas of
 * each stored it. Only an old owner versions: a new owner may not hold the object until
 * streaming brought it, so it forwards the write like a node that is no replica.
 *
 * The older path (`writePath: 'read-before-write'`) is kept for comparison and for functions
 * the one-round-trip path cannot take (no read function in the module, a coordinator that is
 * not a replica after a forward, or a replica that declined the write, e.g. a put on a bucket
 * it does not hold): read the version from R replicas, then apply on all N.
 */
import {
  ArgumentError,
  increment,
  mergeVectors,
  type FunctionDef,
  type Replica,
  type RouteCall,
  type RouteContext,
  type Sibling,
  type StrategyHost,
  type VersionedObject,
  type VersionStamp,
  type VersionVector,
  compareVectors,
  descends,
} from '@ringkv/core';
import { createKeyLocks } from './key-locks.js';
import type { WritePathKind } from './ring-config.js';
import type { AnnotatedPreferenceList } from './preference-list.js';
import { quorumCall, type Answer, type Failure } from './quorum-call.js';
import {
  applyOn,
  maxStamp,
  quorumFailure,
  replicaCall,
  replyObjects,
  sameObject,
  standIns,
  withoutFutureStamps,
  type Doubling,
  type ReplicaPathDeps,
} from './replica-io.js';
import { hasReplicaModule, REPLICATE_MESSAGE, replicaFn, type ReplicaCall } from './replica-messages.js';


export interface WritePathDeps extends ReplicaPathDeps {
  kind: WritePathKind;
  /** Hands the whole call to the first live replica, which coordinates it. */
  forward(call: RouteCall, ctx: RouteContext): Promise<unknown>;
}

export interface WritePath {
  /** `w` stored replicas acknowledge the write; `r` is the read quorum the older path reads versions with. */
  write(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, w: number, r: number): Promise<unknown>;
}

interface Versioned {
  answer: unknown;
  /** What this replica holds after the write, to send to the others. */
  objects: VersionedObject[];
  /** Those of them the write changed: all a hinted copy needs. */
  changed: VersionedObject[];
  /** The write stored nothing here (e.g. `'not_found'`). */
  declined: boolean;
  /** The version this write was stamped with, and the object it wrote (undefined when declined). */
  version: VersionStamp;
  written: VersionedObject | undefined;
}

const ours = (s: Sibling, version: VersionStamp) => s.version.actor === version.actor && s.version.ts === version.ts;

/** `objects` hold, in the object the write wrote, a version its vector does not descend from. */
function overtaken(objects: readonly VersionedObject[], w: Versioned): boolean {
  if (!w.written) return false;
  const o = objects.find((x) => sameObject(x, w.written!));
  return o !== undefined && o.siblings.some((s) => !ours(s, w.version) && !descends(w.version.vv, s.version.vv));
}

interface RoundResult {
  /** Replicas that stored the write, this one included. */
  stored: number;
  /** W stored, in each replica set while ownership moves. */
  met: boolean;
  /** Hinted copies stored that do not count toward W (known only when W was missed). */
  hinted?: number;
  failures: Failure[];
  /** Versions acknowledging replicas held that the sent objects did not cover. */
  missed: VersionedObject[];
}

export function createWritePath(deps: WritePathDeps): WritePath {
  const locks = createKeyLocks();
  const readers = new WeakMap<FunctionDef, ReaderShape | null>();

  async function write(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, w: number, r: number): Promise<unknown> {
    const pending = deps.ready();
    if (pending) await pending;
    const host = deps.host();
    if (deps.kind === 'coordinator' && host && hasReplicaModule(host)) {
      // While ownership moves, a new owner may not hold the object yet (streaming brings it):
      // it cannot version a write against it, so it hands the write on like a non-replica.
      const mine = apl.replicas.find((r) => r.node === ctx.self && !r.gaining);
      const reader = readerFor(host, call);
      if (mine && reader) return coordinate(call, apl, ctx, w, r, mine, reader);
      // Not a replica of this bucket: the first live one coordinates (once; a forwarded call
      // that still finds no replica here takes the older path rather than bounce).
      if (!mine && reader && call.path.length === 0) return deps.forward(call, ctx);
    }
    return writeEverywhere(call, apl, ctx, w, r);
  }

  function readerFor(host: StrategyHost, call: RouteCall): ReplicaCall | undefined {
    const def = host.modules.lookup(call.mod, call.fun, call.args.length);
    if (!def) return undefined;
    let shape = readers.get(def);
    if (shape === undefined) {
      shape = contextReadShape(host, call.mod, call.args.length) ?? null;
      readers.set(def, shape);
    }
    return shape ? { bucket: call.bucket, mod: call.mod, fun: shape.fun, args: call.args.slice(0, shape.arity) } : undefined;
  }

  async function coordinate(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, w: number, r: number, mine: Replica, reader: ReplicaCall): Promise<unknown> {
    const key = lockKey(reader);
    let first = await locks.run(key, () => versionLocally(call, reader, mine, ctx));
    if (first.declined) {
      // This replica could not take the write (it missed the bucket's CREATE, or lost its
      // data): repair it from the other replicas in this same call, then try once more.
      const found = await fetchFromOthers(reader, apl, ctx, r);
      if (found === undefined) return writeEverywhere(call, apl, ctx, w, r);
      if (found.length === 0) return first.answer;
      first = await locks.run(key, async () => {
        await mergeLocal(found, mine, ctx);
        return versionLocally(call, reader, mine, ctx);
      });
      if (first.declined) return first.answer;
    }
    let answer = first.answer;
    let round = await fanOut(apl, ctx, w, first, reader, mine);
    if (round.missed.length > 0 || overtaken(first.objects, first)) {
      // Behind an acknowledged (or racing) write: build on it too, once. Whether a replica
      // answered it, or it reached this replica (a read repair, a replica message) between the
      // read the version was built on and the write: the key lock orders only the writes
      // coordinated here, not merges.
      const again = await locks.run(key, async () => {
        const held = await readLocal(reader, ctx);
        const unseen = uncovered(round.missed, held);
        if (unseen.length > 0) await mergeLocal(unseen, mine, ctx);
        // What this replica holds now (a repair may have brought what a replica answered
        // before this looked): nothing the sent version does not descend from, nothing to do.
        const now = unseen.length > 0 ? await readLocal(reader, ctx) : held;
        if (!overtaken(now, first)) return undefined;
        return versionLocally(call, reader, mine, ctx);
      });
      if (again && !again.declined) {
        answer = again.answer;
        round = await fanOut(apl, ctx, w, again, reader, mine);
      }
    }
    if (!round.met) throw quorumFailure('write', call, w, round.stored, round.failures, apl.unplaced, round.hinted);
    return answer;
  }

  /** Read, increment, stamp, apply, read back: all on this replica, under the key's lock. */
  async function versionLocally(call: RouteCall, reader: ReplicaCall, mine: Replica, ctx: RouteContext): Promise<Versioned> {
    const before = await readLocal(reader, ctx);
    // The vector builds on the object the call is about: the last one its read answers (the
    // others, such as the bucket object `KV.Bucket.get` also reads, are context), so vectors
    // keep one entry per actor that wrote the object itself.
    let vv: VersionVector = {};
    const about = before[before.length - 1];
    for (const o of before) if (about && sameObject(o, about)) for (const s of o.siblings) vv = mergeVectors(vv, s.version.vv);
    // What the caller says it read (route option `context`, the HTTP API's X-Riak-Vclock): the
    // write supersedes it even if this replica has not seen all of it yet.
    const seen = callerContext(call);
    if (seen) vv = mergeVectors(vv, seen);
    deps.clock.observe(maxStamp(before, deps.clock));
    const actor = deps.actor();
    const version: VersionStamp = { vv: increment(vv, actor), ts: deps.clock.now(), actor };
    const answer = await ctx.applyLocal(replicaCall(call), { replica: { mode: 'write', version, ...(mine.hintFor ? { hintFor: mine.hintFor } : {}) } });
    const objects = await readLocal(reader, ctx);
    const changed = objects.filter((o) => o.siblings.some((s) => ours(s, version)));
    const written = changed[changed.length - 1];
    return { answer, objects, changed, declined: changed.length === 0, version, written };
  }

  /**
   * What the other replicas hold for the write's objects (merged across them), read until R
   * replicas answered counting this one, and until one of them holds anything (or all
   * answered): a replica that restarted empty must not speak for the rest. Undefined when too
   * few answered to tell.
   */
  async function fetchFromOthers(reader: ReplicaCall, apl: AnnotatedPreferenceList, ctx: RouteContext, r: number): Promise<VersionedObject[] | undefined> {
    const others = apl.replicas.filter((x) => x.node !== ctx.self);
    const holds = (objects: VersionedObject[]) => objects.some((o) => o.siblings.length > 0);
    const result = await quorumCall<VersionedObject[]>({
      targets: others,
      need: Math.min(Math.max(r - 1, 1), others.length),
      send: async (replica) =>
        withoutFutureStamps(replyObjects(await applyOn(deps, replica, reader, { mode: 'read' }, ctx)) ?? [], deps.clock, deps.limits, replica.node),
      enough: (answers) => answers.some((a) => holds(a.value)),
      onUnreachable: deps.suspect,
    });
    if (result.answers.length < Math.min(Math.max(r - 1, 1), others.length)) return undefined;
    const found = result.answers.flatMap((a) => a.value).filter((o) => o.siblings.length > 0);
    return found;
  }

  async function readLocal(reader: ReplicaCall, ctx: RouteContext): Promise<VersionedObject[]> {
    return replyObjects(await ctx.applyLocal(replicaCall(reader), { replica: { mode: 'read' } })) ?? [];
  }

  async function mergeLocal(objects: VersionedObject[], replica: Replica, ctx: RouteContext): Promise<void> {
    const host = deps.host();
    if (host) await replicaFn(host, 'merge', [objects, replica.hintFor ?? null]);
    void ctx;
  }

  /**
   * Sends the objects to every other replica (and hinted copies for down primaries); settles at
   * W stored, and while ownership moves at W stored in the old and in the new replica set each.
   */
  async function fanOut(apl: AnnotatedPreferenceList, ctx: RouteContext, w: number, written: Versioned, reader: ReplicaCall, mine: Replica): Promise<RoundResult> {
    const here: Answer<VersionedObject[]> = { replica: mine, value: [] };
    const grouped = quorumGroupsOf(apl) !== undefined;
    const met = (answers: readonly Answer<unknown>[]) => 1 + answers.length >= w && groupsMet(apl, [here, ...answers], w);
    const doubling: Doubling = { holders: apl.replicas, doubled: new Set<Replica>() };
    const replace = standIns(apl, deps.isUp, doubling);
    // Primaries already known down with nobody to stand in get a hinted copy on a live replica.
    const extra = apl.unplaced.flatMap((down) => replace({ node: down, role: 'primary' }) ?? []);
    const targets = [...apl.replicas.filter((r) => r.node !== ctx.self), ...extra];
    const calling = quorumCall<VersionedObject[]>({
      targets,
      need: Math.max(w - 1, 0),
      counts: (replica) => !doubling.doubled.has(replica),
      // Replicas get everything read (a bucket object they missed is repaired); hinted copies
      // only what changed (what the down node missed by this write).
      send: (replica) => replicateTo(replica, replica.hintFor ? written.changed : written.objects, reader, ctx),
      replace,
      replaceLate: true,
      ...(grouped ? { enough: met } : {}),
      onUnreachable: deps.suspect,
    });
    if (met([])) {
      void calling.catch(() => {});
      return { stored: 1, met: true, failures: [], missed: [] };
    }
    const result = await calling;
    const ok = met(result.answers);
    // Settled short of W means every request settled: `all` holds every acknowledgement.
    const hinted = ok ? 0 : (await result.all).length - result.answers.length;
    return { stored: 1 + result.answers.length, met: ok, hinted, failures: result.failures, missed: result.answers.flatMap((a: Answer<VersionedObject[]>) => a.value) };
  }

  async function replicateTo(replica: Replica, objects: VersionedObject[], reader: ReplicaCall, ctx: RouteContext): Promise<VersionedObject[]> {
    if (replica.node === ctx.self) {
      // A hinted copy this node keeps for a down primary (no spare node to hold it).
      await mergeLocal(objects, replica, ctx);
      return [];
    }
    const reply = await deps.send(replica.node, REPLICATE_MESSAGE, { objects, hintFor: replica.hintFor ?? null, read: reader }, ctx.timeoutMs);
    const missed = (reply as { missed?: unknown } | null)?.missed;
    const checked = replyObjects({ objects: missed });
    return checked ? withoutFutureStamps(checked, deps.clock, deps.limits, replica.node) : [];
  }

  // ------------------------------------------------------------- read-before-write (older path)

  async function writeEverywhere(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, w: number, r: number): Promise<unknown> {
    const context = await versionContext(call, apl, ctx, r);
    deps.clock.observe(context.maxTs);
    const seen = callerContext(call);
    const version: VersionStamp = { vv: increment(seen ? mergeVectors(context.vv, seen) : context.vv, deps.actor()), ts: deps.clock.now(), actor: deps.actor() };
    const doubling: Doubling = { holders: apl.replicas, doubled: new Set<Replica>() };
    const replace = standIns(apl, deps.isUp, doubling);
    const extra = apl.unplaced.flatMap((down) => replace({ node: down, role: 'primary' }) ?? []);
    const result = await quorumCall<unknown>({
      targets: [...apl.replicas, ...extra],
      need: w,
      counts: (replica) => !doubling.doubled.has(replica),
      send: (replica) =>
        applyOn(deps, replica, call, { mode: 'write', version, ...(replica.hintFor ? { hintFor: replica.hintFor } : {}), ...(replica.gaining ? { gaining: true } : {}) }, ctx),
      replace,
      replaceLate: true,
      // Replicas can answer differently (one that lost its data says 'not_found'): wait for agreement or for all.
      enough: (answers) => new Set(answers.map((a) => answerKey(a.value))).size === 1 && groupsMet(apl, answers, w),
      onUnreachable: deps.suspect,
    });
    if (result.answers.length < w || !groupsMet(apl, result.answers, w)) {
      // Settled short of W means every request settled: `all` holds every acknowledgement,
      // hinted copies that do not count toward W included.
      const hinted = (await result.all).length - result.answers.length;
      throw quorumFailure('write', call, w, result.answers.length, result.failures, apl.unplaced, hinted);
    }
    return majorityAnswer(result.answers, apl.replicas);
  }

  /**
   * What a write builds on: the vector joined over what R replicas hold for the objects it
   * touches. Best effort: replicas that fail are skipped, and the write still goes out (its
   * version is then concurrent, not lost).
   */
  async function versionContext(call: RouteCall, apl: AnnotatedPreferenceList, ctx: RouteContext, r: number): Promise<{ vv: VersionVector; maxTs: number }> {
    const host = deps.host();
    const reader = host ? readerFor(host, call) : undefined;
    if (!reader) return { vv: {}, maxTs: 0 };
    const result = await quorumCall<unknown>({
      targets: apl.replicas,
      need: Math.min(r, apl.replicas.length),
      send: (replica) => applyOn(deps, replica, reader, { mode: 'read' }, ctx),
      onUnreachable: deps.suspect,
    });
    let vv: VersionVector = {};
    const objects: VersionedObject[] = [];
    for (const a of result.answers) objects.push(...withoutFutureStamps(replyObjects(a.value) ?? [], deps.clock, deps.limits, a.replica.node));
    for (const o of objects) for (const s of o.siblings) vv = mergeVectors(vv, s.version.vv);
    return { vv, maxTs: maxStamp(objects, deps.clock) };
  }

  return { write };
}

/** The old and the new replica set of a bucket while its ownership moves (Placement.quorumGroups). */
function quorumGroupsOf(apl: AnnotatedPreferenceList): readonly (readonly string[])[] | undefined {
  return (apl as { quorumGroups?: readonly (readonly string[])[] }).quorumGroups;
}

/** While ownership moves: `w` answers from the old AND from the new replica set. */
function groupsMet(apl: AnnotatedPreferenceList, answers: readonly Answer<unknown>[], w: number): boolean {
  const groups = quorumGroupsOf(apl);
  if (!groups) return true;
  return groups.every((g) => answers.filter((a) => g.includes(a.replica.hintFor ?? a.replica.node)).length >= Math.min(w, g.length));
}

interface ReaderShape {
  fun: string;
  arity: number;
}

/**
 * The read function a write's version is read with: in the write's module, the `read`
 * function of the greatest arity not above the write's, called with that many leading
 * arguments (`KV.Bucket.put(b, k, v)` -> `KV.Bucket.get(b, k)`; `KV.Registry.create(b)` ->
 * `KV.Registry.lookup(b)`). None: the write is versioned on its own actor only.
 */
export function contextRead(host: StrategyHost, call: RouteCall): ReplicaCall | undefined {
  const shape = contextReadShape(host, call.mod, call.args.length);
  return shape && { bucket: call.bucket, mod: call.mod, fun: shape.fun, args: call.args.slice(0, shape.arity) };
}

function contextReadShape(host: StrategyHost, mod: string, argc: number): ReaderShape | undefined {
  let best: ReaderShape | undefined;
  for (const entry of host.modules.entries()) {
    if (entry.mod !== mod || entry.kind !== 'read') continue;
    const arity = entry.arity ?? argc;
    if (arity > argc) continue;
    if (!best || arity > best.arity || (arity === best.arity && entry.fun < best.fun)) best = { fun: entry.fun, arity };
  }
  return best;
}

/**
 * The lock a write takes: its read call's identity. Strings count as their UTF-8 bytes, like
 * everywhere else in ringkv, so `"k"` and the bytes of `k` take the same lock.
 */
function lockKey(c: ReplicaCall): string {
  let k = `${c.mod.length}:${c.mod}${c.fun.length}:${c.fun}`;
  for (const a of [c.bucket, ...c.args]) {
    const s =
      typeof a === 'string'
        ? `b${Buffer.from(a, 'utf8').toString('latin1')}`
        : a instanceof Uint8Array
          ? `b${Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('latin1')}`
          : `j${safeJson(a)}`;
    k += `${s.length}:${s}`;
  }
  return k;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Siblings among `missed` that nothing in `held` covers, per object. */
export function uncovered(missed: readonly VersionedObject[], held: readonly VersionedObject[]): VersionedObject[] {
  const out: VersionedObject[] = [];
  for (const o of missed) {
    const mine = held.find((h) => sameObject(h, o))?.siblings ?? [];
    const unseen = o.siblings.filter((s) => !coveredBy(s, mine));
    if (unseen.length > 0) out.push({ ...o, siblings: unseen });
  }
  return out;
}

/** Some sibling of `set` has seen `s` (its vector descends from, or equals, `s`'s). */
export function coveredBy(s: Sibling, set: readonly Sibling[]): boolean {
  return set.some((t) => {
    const o = compareVectors(t.version.vv, s.version.vv);
    return o === 'after' || o === 'equal';
  });
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

/** Most actors a caller's context may name: it ends up in every version built on it. */
const MAX_CONTEXT_ACTORS = 256;

/** Route option `context` (the versions the caller read), checked: it may come from a stranger. */
function callerContext(call: RouteCall): VersionVector | undefined {
  const given = call.options?.context;
  if (given === undefined) return undefined;
  const entries = given !== null && typeof given === 'object' && !Array.isArray(given) ? Object.entries(given) : undefined;
  if (!entries || entries.length > MAX_CONTEXT_ACTORS || !entries.every(([, n]) => Number.isSafeInteger(n) && n >= 0)) {
    throw new ArgumentError(`option context must be a version vector (at most ${MAX_CONTEXT_ACTORS} actors, each a non-negative integer)`);
  }
  return given;
}
