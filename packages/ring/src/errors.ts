import { registerErrorClass, RingkvError, type RingkvErrorOptions } from '@ringkv/core';

/** One replica that did not answer a quorum call, and why. */
export interface ReplicaFailure {
  readonly node: string;
  readonly error: { readonly name: string; readonly message: string };
}

/**
 * Fewer replicas answered than the quorum needs. The message says how many were needed, how
 * many answered and which nodes failed with what, so it stays useful after crossing the wire
 * (where only name, message and `mayHaveApplied` travel).
 *
 * A failed write is not a write that did not happen: `mayHaveApplied` is true whenever any
 * replica acknowledged it or did not answer in time (it may have stored it and the answer got
 * lost), and the message says so. Such a write can be read back later, and read repair and
 * hinted handoff may spread it to the other replicas. It is false only when no replica was
 * reached at all (every one unreachable or known down), and for reads.
 */
export class QuorumError extends RingkvError {
  needed = 0;
  answered = 0;
  failures: readonly ReplicaFailure[] = [];
  mayHaveApplied = false;
  constructor(
    message: string,
    options?: RingkvErrorOptions & { needed?: number; answered?: number; failures?: readonly ReplicaFailure[]; mayHaveApplied?: boolean },
  ) {
    super(message, options);
    if (options?.needed !== undefined) this.needed = options.needed;
    if (options?.answered !== undefined) this.answered = options.answered;
    if (options?.failures !== undefined) this.failures = options.failures;
    if (options?.mayHaveApplied !== undefined) this.mayHaveApplied = options.mayHaveApplied;
  }
}

registerErrorClass(QuorumError);
