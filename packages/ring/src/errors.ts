import { registerErrorClass, RingkvError, type RingkvErrorOptions } from '@ringkv/core';

/** One replica that did not answer a quorum call, and why. */
export interface ReplicaFailure {
  readonly node: string;
  readonly error: { readonly name: string; readonly message: string };
}

/**
 * Fewer replicas answered than the quorum needs. The message says how many were needed, how
 * many answered and which nodes failed with what, so it stays useful after crossing the wire
 * (where only name and message travel).
 */
export class QuorumError extends RingkvError {
  needed = 0;
  answered = 0;
  failures: readonly ReplicaFailure[] = [];
  constructor(message: string, options?: RingkvErrorOptions & { needed?: number; answered?: number; failures?: readonly ReplicaFailure[] }) {
    super(message, options);
    if (options?.needed !== undefined) this.needed = options.needed;
    if (options?.answered !== undefined) this.answered = options.answered;
    if (options?.failures !== undefined) this.failures = options.failures;
  }
}

registerErrorClass(QuorumError);
