/**
 * The calls waiting for a reply on one connection: a Map keyed by call id and ONE coarse
 * timer that sweeps expired calls, instead of a timer (and an Error object) per call, which is
 * where the nats client's own `request()` spends its time under load.
 *
 * @example
 * const pending = createPendingCalls({ sweepIntervalMs: 20 });
 * const { id, promise } = pending.add('bar@host', 5000);
 * pending.settle(id, { ok: true, value: 42 }); // promise resolves to 42
 */
import { TimeoutError, TransportError, type TransportMessage } from '@ringkv/core';

export interface PendingCallsOptions {
  /** How often expired calls are swept; a timeout fires up to this much late. @default 20 */
  sweepIntervalMs?: number;
  /** Clock, for tests. @default performance.now */
  now?: () => number;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

/**
 * What a call sent, kept so that it can be sent again: while the connection is down a call is
 * `held` (not sent), and sent when it comes back.
 */
export interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  /**
   * The message, kept so that whether it is safe to run twice (docs/decisions.md, "riding
   * through a NATS restart") is asked only when a disconnect lost the reply: the rule walks it.
   */
  readonly msg: TransportMessage;
  state: 'held' | 'sent';
  /** Times it was sent again after its reply was lost to a disconnect. */
  resent: number;
}

interface Pending {
  readonly node: string;
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly out: Outgoing | undefined;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export interface PendingCalls {
  /** Registers a call to `node` that expires after `timeoutMs`, with what it sends. */
  add(node: string, timeoutMs: number, out?: Outgoing): { id: number; promise: Promise<unknown> };
  /** What call `id` sends; undefined when the call is no longer pending. */
  outgoing(id: number): Outgoing | undefined;
  /** Milliseconds left before call `id` expires; undefined when it is no longer pending. */
  remainingMs(id: number): number | undefined;
  /** Every pending call that sends something, with its id and node. */
  each(fn: (id: number, out: Outgoing, node: string) => void): void;
  /** Settles call `id`; false when it is unknown (already timed out or settled). */
  settle(id: number, outcome: Outcome): boolean;
  /** The node call `id` went to; undefined when the call is no longer pending. */
  nodeOf(id: number): string | undefined;
  /** Rejects call `id` with the error `errorFor` builds from its node; false when unknown. */
  fail(id: number, errorFor: (node: string) => Error): boolean;
  /** Rejects every pending call with the error `errorFor` builds. */
  rejectAll(errorFor: (node: string) => Error): void;
  /** Rejects every pending call to `node`; returns how many. */
  rejectNode(node: string, errorFor: (node: string) => Error): number;
  /** Rejects calls past their deadline with TimeoutError (the timer calls this). */
  sweep(): void;
  size(): number;
  /** Stops the timer. */
  stop(): void;
}

export const DEFAULT_SWEEP_INTERVAL_MS = 20;

export function createPendingCalls(options: PendingCallsOptions = {}): PendingCalls {
  const sweepEvery = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  const now = options.now ?? (() => performance.now());
  const calls = new Map<number, Pending>();
  let nextId = 1;
  let timer: ReturnType<typeof setInterval> | undefined;

  function ensureTimer(): void {
    if (timer !== undefined) return;
    timer = setInterval(sweep, sweepEvery);
    // A pending call must not keep a process alive on its own.
    timer.unref?.();
  }

  function stopTimer(): void {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  }

  function sweep(): void {
    const t = now();
    for (const [id, call] of calls) {
      if (call.deadline <= t) {
        calls.delete(id);
        call.reject(
          call.out?.state === 'held'
            ? new TransportError(`call to node ${call.node} not sent: no connection to NATS within its ${call.timeoutMs} ms timeout`)
            : new TimeoutError(`node ${call.node} did not answer within ${call.timeoutMs} ms`),
        );
      }
    }
    if (calls.size === 0) stopTimer();
  }

  return {
    add(node, timeoutMs, out) {
      const id = nextId;
      // Ids are only compared for equality; wrap long before precision is lost.
      nextId = nextId >= Number.MAX_SAFE_INTEGER ? 1 : nextId + 1;
      let resolve!: (v: unknown) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      calls.set(id, { node, timeoutMs, deadline: now() + timeoutMs, out, resolve, reject });
      ensureTimer();
      return { id, promise };
    },
    settle(id, outcome) {
      const call = calls.get(id);
      if (!call) return false;
      calls.delete(id);
      if (outcome.ok) call.resolve(outcome.value);
      else call.reject(outcome.error);
      return true;
    },
    nodeOf: (id) => calls.get(id)?.node,
    outgoing: (id) => calls.get(id)?.out,
    remainingMs(id) {
      const call = calls.get(id);
      return call ? call.deadline - now() : undefined;
    },
    each(fn) {
      for (const [id, call] of [...calls]) if (call.out) fn(id, call.out, call.node);
    },
    fail(id, errorFor) {
      const call = calls.get(id);
      if (!call) return false;
      calls.delete(id);
      call.reject(errorFor(call.node));
      return true;
    },
    rejectAll(errorFor) {
      const all = [...calls.values()];
      calls.clear();
      stopTimer();
      for (const call of all) call.reject(errorFor(call.node));
    },
    rejectNode(node, errorFor) {
      const hit: Pending[] = [];
      for (const [id, call] of calls) {
        if (call.node === node) {
          calls.delete(id);
          hit.push(call);
        }
      }
      if (calls.size === 0) stopTimer();
      for (const call of hit) call.reject(errorFor(call.node));
      return hit.length;
    },
    sweep,
    size: () => calls.size,
    stop: stopTimer,
  };
}
