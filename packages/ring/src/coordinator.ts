/**
 * The replication coordinator: how the ring runs one routed call, by the kind the function was
 * registered with.
 *
 * - plain: on the first live primary (here, or forwarded there);
 * - write: write-path.ts (one round trip: a replica versions the write against what it holds
 *   and sends the resulting object to the others);
 * - read: read-path.ts (R replies merged, repaired in the background).
 *
 * Both paths take the annotated preference list the strategy's placement computed (primaries,
 * fallbacks, spares, unplaced primaries): nothing here re-derives who stands in for whom.
 */
import {
  ArgumentError,
  renderBucket,
  UndefinedFunctionError,
  type FunctionKind,
  type Placement,
  type RouteCall,
  type RouteContext,
} from '@ringkv/core';
import { QuorumError } from './errors.js';
import type { AnnotatedPreferenceList } from './preference-list.js';
import { isTransportFailure } from './quorum-call.js';
import { createReadPath } from './read-path.js';
import type { ReplicaPathDeps } from './replica-io.js';
import type { WritePathKind } from './ring-config.js';
import { createWritePath } from './write-path.js';

/** What the ring's placement answers: core's Placement plus the rest of the annotated list. */
export type RingPlacement = Placement & Pick<AnnotatedPreferenceList, 'primaries' | 'spares' | 'unplaced'>;

export interface CoordinatorDeps extends ReplicaPathDeps {
  n: number;
  /** The annotated list again (after a node proved unreachable mid-call). */
  placementOf(bucket: RouteCall['bucket']): RingPlacement;
  /** @default 'coordinator' */
  writePath?: WritePathKind;
}

export interface Coordinator {
  execute(call: RouteCall, placement: Placement, ctx: RouteContext): Promise<unknown>;
}

export function createCoordinator(deps: CoordinatorDeps): Coordinator {
  const reads = createReadPath(deps);
  const writes = createWritePath({ ...deps, kind: deps.writePath ?? 'coordinator', forward: (call, ctx) => onFirstLive(call, ctx) });

  function annotated(call: RouteCall, placement: Placement): RingPlacement {
    const p = placement as Partial<RingPlacement>;
    // Not `p.spares`: reading it would pay the walk past the list now.
    return p.unplaced && p.primaries && 'spares' in placement ? (placement as RingPlacement) : deps.placementOf(call.bucket);
  }

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
      if (err instanceof UndefinedFunctionError && first !== ctx.self && call.path.length === 0) return onFirstLive(call, ctx, first);
      throw err;
    }
    if (kind === 'plain') {
      const forwardedToReplica = call.path.length > 0 && placement.replicas.some((r) => r.node === ctx.self);
      return first === ctx.self || forwardedToReplica ? ctx.applyLocal(call) : onFirstLive(call, ctx, first);
    }
    const apl = annotated(call, placement);
    return kind === 'write'
      ? writes.write(call, apl, ctx, quorumFor('w', call, apl), apl.r)
      : reads.read(call, apl, ctx, quorumFor('r', call, apl));
  }

  /**
   * A call handed whole to the first live replica (plain calls, calls this node cannot run,
   * writes this node does not hold); if that node turns out unreachable (nothing ran there),
   * the next live one gets it, up to n tries. Timeouts are not retried: the call may have run.
   */
  async function onFirstLive(call: RouteCall, ctx: RouteContext, first?: string): Promise<unknown> {
    let target = first ?? deps.placementOf(call.bucket).replicas[0]?.node;
    for (let attempt = 1; ; attempt++) {
      if (target === undefined) throw new QuorumError(`no live replica for ${renderBucket(call.bucket)}`, { needed: 1, answered: 0 });
      try {
        return await forward(target, call, ctx);
      } catch (err) {
        if ((err as Error).name !== 'NodeUnreachableError' || attempt >= deps.n) throw err;
        const next: string | undefined = deps.placementOf(call.bucket).replicas[0]?.node;
        if (next === undefined || next === target) throw err;
        if (next === ctx.self) return execute(call, deps.placementOf(call.bucket), ctx);
        target = next;
      }
    }
  }

  async function forward(to: string, call: RouteCall, ctx: RouteContext): Promise<unknown> {
    try {
      return await ctx.forward(to, call);
    } catch (err) {
      // A slow function is not a dead node: only connection-level failures count here.
      if (isTransportFailure(err) && (err as Error).name !== 'TimeoutError') deps.suspect(to, err);
      throw err;
    }
  }

  return { execute };
}

function quorumFor(key: 'r' | 'w', call: RouteCall, placement: Placement): number {
  const asked = call.options?.[key];
  if (asked === undefined) return placement[key];
  if (typeof asked !== 'number' || !Number.isInteger(asked) || asked < 1 || asked > placement.n) {
    throw new ArgumentError(`option ${key} must be an integer from 1 to n (${placement.n}), got ${JSON.stringify(asked)}`);
  }
  return asked;
}
