/**
 * Sends one request to several replicas and settles as soon as enough of them answered: the
 * mechanics shared by writes (W), reads (R) and the version read before a write. A replica that
 * fails at the transport level is replaced by the next spare node (sloppy quorum); late answers
 * stay available for read repair.
 */
import { NodeUnreachableError, TimeoutError, TransportError, type Replica } from '@ringkv/core';

export interface Answer<T> {
  readonly replica: Replica;
  readonly value: T;
}

export interface Failure {
  readonly replica: Replica;
  readonly error: unknown;
}

export interface QuorumCallResult<T> {
  /** Answers that count (see {@link QuorumCallOptions.counts}) received before settling. */
  readonly answers: Answer<T>[];
  readonly failures: Failure[];
  /** Resolves once every request settled, with every answer (late ones included). */
  readonly all: Promise<Answer<T>[]>;
}

export interface QuorumCallOptions<T> {
  targets: readonly Replica[];
  /** Successful answers needed. */
  need: number;
  send(replica: Replica): Promise<T>;
  /** A stand-in for a replica that failed at the transport level, if any is left. */
  replace?(failed: Replica): Replica | undefined;
  /** Whether an answer from `replica` counts toward `need` (hint copies on a node that already holds the data do not). @default all count */
  counts?(replica: Replica): boolean;
  /** Keep replacing failed replicas after the call settled. @default false */
  replaceLate?: boolean;
  /** Extra condition to settle once `need` answers are in (writes wait for agreeing answers). */
  enough?(answers: readonly Answer<T>[]): boolean;
  /** Called for every transport-level failure (the failure detector listens). */
  onUnreachable?(node: string, error: unknown): void;
}

/** Errors that say the node (not the function) failed. */
export function isTransportFailure(err: unknown): boolean {
  const name = (err as Error | undefined)?.name;
  return name === NodeUnreachableError.name || name === TimeoutError.name || name === TransportError.name;
}

export function quorumCall<T>(options: QuorumCallOptions<T>): Promise<QuorumCallResult<T>> {
  const answers: Answer<T>[] = [];
  const failures: Failure[] = [];
  let pending = 0;
  let settled = false;
  let resolveAll!: (a: Answer<T>[]) => void;
  const all = new Promise<Answer<T>[]>((r) => (resolveAll = r));

  return new Promise((resolve) => {
    const check = () => {
      if (pending === 0) resolveAll(answers);
      if (settled) return;
      const counted = options.counts ? answers.filter((a) => options.counts!(a.replica)) : answers;
      const met = counted.length >= options.need && (options.enough?.(counted) ?? true);
      if (met || pending === 0) {
        settled = true;
        resolve({ answers: options.counts ? answers.filter((a) => options.counts!(a.replica)) : [...answers], failures: [...failures], all });
      }
    };
    const start = (replica: Replica) => {
      pending++;
      let sent: Promise<T>;
      try {
        sent = options.send(replica);
      } catch (err) {
        sent = Promise.reject(err);
      }
      // One reaction per request: the answer or the failure is recorded, then counted.
      sent.then(
        (value) => {
          answers.push({ replica, value });
          pending--;
          check();
        },
        (error: unknown) => {
          failures.push({ replica, error });
          if (isTransportFailure(error)) {
            try {
              options.onUnreachable?.(replica.node, error);
              // Writes keep replacing after they answered, so the failed primary still gets a
              // hinted copy; reads stop, nobody waits for the stand-in's answer.
              const stand = settled && !options.replaceLate ? undefined : options.replace?.(replica);
              if (stand) start(stand);
            } catch (err) {
              failures.push({ replica, error: err });
            }
          }
          pending--;
          check();
        },
      );
    };
    for (const t of options.targets) start(t);
    if (options.targets.length === 0) check();
  });
}
