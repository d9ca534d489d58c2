/**
 * The range table of a managed cluster, one epoch at a time (see cluster-model.ts for the
 * phases). While ownership of a range moves from an old owner to a new one:
 *
 *   phase        writes                                   reads
 *   (none)       the table's owner                        the table's owner
 *   write-both   old owner, which passes each to the new  old owner
 *   stream       old owner, which passes each to the new  old owner
 *   read-new     old owner, which passes each to the new  new owner
 *   cleanup      new owner                                new owner
 *
 * The range table keeps one value per key and no versions, so order decides what a key holds.
 * Everything the new owner receives for a bucket therefore comes from the old owner through
 * one queue per bucket: a write is applied on the old owner, then on the new one, before the
 * next write of that bucket starts; a page of the stream is read on the old owner and stored on
 * the new one in the same queue. Whatever the interleaving, the new owner applies a bucket's
 * writes and pages in the old owner's order, so it ends holding what the old owner holds. A
 * write is acknowledged once both applied it.
 *
 * Calls carry the sender's epoch (forwarded calls in `options.epoch`, messages in `epoch`): a
 * node behind refreshes before answering, and a node forwards, never fails, a call for a bucket
 * it does not own.
 *
 * @example
 * const s = createEpochRangeStrategy({ epoch: 5, table, transition: { from: table, to: next, phase: 'stream' } },
 *   { refresh: (e) => agent.refresh(e), queue });
 * node.setStrategy(s);
 */
import { bucketBytes, type BucketName } from './bucket-name.js';
import type { TransitionPhase } from './cluster-model.js';
import { ArgumentError, BadRequestError } from './errors.js';
import { KV_FUNCTIONS } from './kv-protocol.js';
import type { FunctionKind } from './module-registry.js';
import { findEntry, noEntryError, renderTable, type RangeTable } from './range-table.js';
import type { RouteCall, RouteContext, Strategy, StrategyHost } from './strategy.js';

/** The store module that moves plain buckets (`@ringkv/store` range-move.ts). */
export const RANGE_MOVE_MODULE = 'RangeMove';
/** Old owner -> new owner: apply this write (already applied on the old owner). */
export const RANGE_WRITE_MESSAGE = 'range.write';
/** New owner -> old owner: send me the next page of a bucket (`{bucket, after, limit, to, epoch}` -> {@link RangePullReply}). */
export const RANGE_PULL_MESSAGE = 'range.transfer.pull';
/** Old owner -> new owner: store this page (`{bucket, entries, epoch}`). */
export const RANGE_PAGE_MESSAGE = 'range.transfer.page';

/** One page of a plain bucket, as `RangeMove.scan` answers it. */
export interface RangeMovePage {
  /** Whether the bucket exists on the node scanned. */
  readonly exists: boolean;
  readonly entries: Array<[key: Uint8Array, value: Uint8Array]>;
  /** Key plus value bytes of the entries (what the bucket listing counts). */
  readonly bytes: number;
  /** Where the next page starts; absent after the last one. */
  readonly next?: Uint8Array;
}

/** What the old owner answers a pull with, once the page is stored on the new owner. */
export interface RangePullReply {
  readonly bytes: number;
  readonly entries: number;
  readonly next?: Uint8Array;
}

/** One queue per bucket on a node, kept across epochs: a write and the pages of its bucket never interleave. */
export interface BucketWriteQueue {
  run<T>(bucket: BucketName, op: () => Promise<T>): Promise<T>;
}

export function createBucketWriteQueue(): BucketWriteQueue {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run(bucket, op) {
      const id = Buffer.from(bucketBytes(bucket)).toString('latin1');
      const prev = tails.get(id) ?? Promise.resolve();
      const result = prev.then(op, op);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(id, tail);
      void tail.then(() => {
        if (tails.get(id) === tail) tails.delete(id);
      });
      return result;
    },
  };
}

export interface EpochRangeView {
  readonly epoch: number;
  /** The committed table. */
  readonly table: RangeTable;
  readonly transition?: { readonly from: RangeTable; readonly to: RangeTable; readonly phase: TransitionPhase };
}

export interface EpochRangeDeps {
  /** Asked when a call carries a newer epoch; resolves once this node installed it (or gave up). */
  refresh(epoch: number): Promise<void>;
  /** Shared by every epoch's strategy on this node. */
  queue: BucketWriteQueue;
}

export interface EpochRangeStrategy extends Strategy {
  readonly name: 'range';
  readonly epoch: number;
  /** The table reads use in this epoch (what the HTTP layout view shows). */
  table(): RangeTable;
  /** The owner reads go to, and the owners a write is applied on, in order. */
  owners(bucket: BucketName): { read: string; write: readonly string[] };
  /** Calls this strategy is coordinating now: an epoch is acknowledged once the previous one's drained. */
  inFlight(): number;
}

interface NodeLike extends StrategyHost {
  strategy(): Strategy;
}

export function createEpochRangeStrategy(view: EpochRangeView, deps: EpochRangeDeps): EpochRangeStrategy {
  const { epoch, transition } = view;
  if (!Number.isInteger(epoch) || epoch < 0) throw new ArgumentError(`epoch must be a non-negative integer, got ${String(epoch)}`);
  const fromTable = transition?.from ?? view.table;
  const toTable = transition?.to ?? view.table;
  const phase = transition?.phase;
  const readTable = phase === 'read-new' || phase === 'cleanup' ? toTable : fromTable;
  // Writes pass through the old owner while its copy is still the one that counts.
  const chained = phase === 'write-both' || phase === 'stream' || phase === 'read-new';
  let inFlight = 0;
  let nodeRef: NodeLike | undefined;

  function ownerIn(table: RangeTable, bucket: BucketName): string {
    const e = findEntry(table, bucketBytes(bucket)[0] ?? -1);
    if (!e) throw noEntryError(bucket, table);
    return e.node;
  }

  function owners(bucket: BucketName): { read: string; write: string[] } {
    const read = ownerIn(readTable, bucket);
    if (!transition) return { read, write: [read] };
    const to = ownerIn(toTable, bucket);
    if (!chained) return { read, write: [to] };
    const from = ownerIn(fromTable, bucket);
    return { read, write: from === to ? [from] : [from, to] };
  }

  async function run(call: RouteCall, ctx: RouteContext): Promise<unknown> {
    const seen = call.options?.epoch;
    if (typeof seen === 'number' && seen > epoch && nodeRef) {
      await deps.refresh(seen);
      const now = nodeRef.strategy();
      if (now !== strategy) return dispatchWith(now, call, ctx);
    }
    let kind: FunctionKind = 'read';
    try {
      kind = ctx.kindOf(call.mod, call.fun, call.args.length);
    } catch {
      // Not registered here: the owner answers (or reports the undefined function).
    }
    const forward = (to: string, c: RouteCall) => ctx.forward(to, { ...c, options: { ...(c.options ?? {}), epoch } });
    const o = owners(call.bucket);
    if (kind !== 'write' || o.write.length === 1) {
      const owner = kind === 'write' ? o.write[0]! : o.read;
      return owner === ctx.self ? ctx.applyLocal(call) : forward(owner, call);
    }
    const [first, second] = o.write as [string, string];
    if (first !== ctx.self) return forward(first, call);
    return deps.queue.run(call.bucket, async () => {
      const answer = await ctx.applyLocal(call);
      // Nothing changed on the old owner (a write to a bucket that does not exist): nothing to pass on.
      if (answer !== 'not_found') {
        await ctx.send(second, RANGE_WRITE_MESSAGE, { call: { bucket: call.bucket, mod: call.mod, fun: call.fun, args: call.args }, epoch });
      }
      return answer;
    });
  }

  /** Checks that this node takes what an old owner passes on for `bucket` (refreshing first when the sender is ahead). */
  async function checkReceiver(host: StrategyHost, bucket: BucketName, senderEpoch: unknown, what: string): Promise<void> {
    if (typeof senderEpoch === 'number' && senderEpoch > epoch) await deps.refresh(senderEpoch);
    const current = installedView();
    const owner = current.owners(bucket).write.at(-1);
    if (owner !== host.name) {
      throw new BadRequestError(
        `${what}: ${host.name} does not take writes for this bucket in cluster epoch ${current.epoch} (its owner is ${String(owner)})`,
      );
    }
  }

  /** The epoch installed on the node now (a refresh may have replaced this one): it decides who owns what. */
  function installedView(): EpochRangeStrategy {
    const installed = nodeRef?.strategy();
    return installed && isEpochRange(installed) ? installed : strategy;
  }

  const strategy: EpochRangeStrategy = {
    name: 'range',
    epoch,
    table: () => readTable,
    owners,
    inFlight: () => inFlight,
    placement(bucket) {
      return { replicas: [{ node: ownerIn(readTable, bucket), role: 'primary' }], n: 1, r: 1, w: 1 };
    },
    async execute(call, _placement, ctx) {
      inFlight++;
      try {
        return await run(call, ctx);
      } finally {
        inFlight--;
      }
    },
    describe: () =>
      transition
        ? `range table epoch ${epoch}, ${phase}: ${renderTable(fromTable)} -> ${renderTable(toTable)}`
        : `range table epoch ${epoch} ${renderTable(readTable)}`,
    members: () => [...new Set([...fromTable, ...toTable].map((e) => e.node))].sort(),
    attach(host) {
      nodeRef = typeof (host as Partial<NodeLike>).strategy === 'function' ? (host as NodeLike) : undefined;
      host.handle(RANGE_WRITE_MESSAGE, async (body) => {
        const b = body as { call?: Partial<RouteCall>; epoch?: unknown } | null;
        const c = b?.call;
        if (!c || typeof c.mod !== 'string' || typeof c.fun !== 'string' || !Array.isArray(c.args)) {
          throw new BadRequestError(`${RANGE_WRITE_MESSAGE}: body must be {call: {bucket, mod, fun, args}, epoch}`);
        }
        const bucket = bucketOf(c.bucket, RANGE_WRITE_MESSAGE);
        await checkReceiver(host, bucket, b.epoch, RANGE_WRITE_MESSAGE);
        const def = host.modules.resolve(c.mod, c.fun, c.args.length, host.name);
        if (def.kind !== 'write') throw new BadRequestError(`${RANGE_WRITE_MESSAGE}: ${c.mod}.${c.fun}/${c.args.length} is not a write`);
        // The old owner had the bucket (it answered something other than not_found): so does the new one.
        const create = KV_FUNCTIONS.create;
        const creator = host.modules.lookup(create.mod, create.fun, create.arity);
        if (creator) await creator.fn({ node: host.name, bucket, meta: {} }, bucket);
        return def.fn({ node: host.name, bucket, meta: {} }, ...c.args);
      });
      host.handle(RANGE_PAGE_MESSAGE, async (body) => {
        const b = body as { bucket?: unknown; entries?: unknown; epoch?: unknown } | null;
        const bucket = bucketOf(b?.bucket, RANGE_PAGE_MESSAGE);
        await checkReceiver(host, bucket, b?.epoch, RANGE_PAGE_MESSAGE);
        return moveFn(host, 'absorb', [bucket, b?.entries]);
      });
      host.handle(RANGE_PULL_MESSAGE, async (body) => {
        const b = body as { bucket?: unknown; after?: unknown; limit?: unknown; to?: unknown; epoch?: unknown } | null;
        const bucket = bucketOf(b?.bucket, RANGE_PULL_MESSAGE);
        if (typeof b?.epoch === 'number' && b.epoch > epoch) await deps.refresh(b.epoch);
        const current = installedView();
        const write = current.owners(bucket).write;
        const to = write[1];
        if (write.length !== 2 || write[0] !== host.name || b?.to !== to || to === undefined) {
          throw new BadRequestError(
            `${RANGE_PULL_MESSAGE}: in cluster epoch ${current.epoch} ${host.name} is not passing this bucket on to ${JSON.stringify(String(b?.to).slice(0, 80))} (its owners: ${write.join(' -> ')})`,
          );
        }
        const after = b?.after ?? null;
        // Read and stored in the bucket's queue: no write of the bucket falls between the two.
        return deps.queue.run(bucket, async (): Promise<RangePullReply> => {
          const page = (await moveFn(host, 'scan', [bucket, after, b?.limit])) as RangeMovePage;
          if (page.exists && (page.entries.length > 0 || after === null)) {
            await host.send(to, RANGE_PAGE_MESSAGE, { bucket, entries: page.entries, epoch: current.epoch });
          }
          return { bytes: page.bytes, entries: page.entries.length, ...(page.next ? { next: page.next } : {}) };
        });
      });
    },
  };
  epochRangeStrategies.add(strategy);
  return strategy;
}

const epochRangeStrategies = new WeakSet<Strategy>();

export function isEpochRange(s: Strategy): s is EpochRangeStrategy {
  return epochRangeStrategies.has(s);
}

/** Runs `fun` of the `RangeMove` module on this node. */
export async function moveFn(host: StrategyHost, fun: string, args: readonly unknown[]): Promise<unknown> {
  const def = host.modules.lookup(RANGE_MOVE_MODULE, fun, args.length);
  if (!def) throw new BadRequestError(`node ${host.name} has no storage that moves range-table buckets (role storage)`);
  return def.fn({ node: host.name, bucket: new Uint8Array(0), meta: {} }, ...args);
}

function bucketOf(v: unknown, what: string): BucketName {
  try {
    const bytes = bucketBytes(v as BucketName);
    if (bytes.length === 0) throw new ArgumentError('bucket name is empty');
    return bytes;
  } catch (err) {
    throw new BadRequestError(`${what}: bucket: ${(err as Error).message}`);
  }
}

/** Runs a call with another strategy, as the router would (a newer epoch installed meanwhile). */
function dispatchWith(s: Strategy, call: RouteCall, ctx: RouteContext): Promise<unknown> {
  const placement = s.placement(call.bucket);
  if (s.execute) return s.execute(call, placement, ctx);
  const owner = placement.replicas[0]?.node;
  if (owner === undefined) throw new BadRequestError(`strategy ${s.name} gave no node for the bucket`);
  return owner === ctx.self ? ctx.applyLocal(call) : ctx.forward(owner, call);
}
