/**
 * A transport for nodes living in one process: the embedded default and the unit tests.
 * Messages and errors are copied as they would be on a wire, so code that works here does not
 * depend on sharing objects between nodes.
 *
 * @example
 * const network = createInProcessNetwork();
 * const foo = createNode({ name: 'foo@computer-name', transport: network.transport() });
 */
import { errorFromWire, errorToWire, NodeUnreachableError, TimeoutError, TransportError } from './errors.js';
import type { Listener, MessageHandler, Transport, TransportMessage } from './transport.js';

export interface InProcessNetwork {
  /** A transport attached to this network. */
  transport(): Transport;
  /** Names of the nodes currently served. */
  nodes(): string[];
}

export function createInProcessNetwork(): InProcessNetwork {
  const handlers = new Map<string, MessageHandler>();

  function transport(): Transport {
    let closed = false;
    const mine = new Set<string>();
    return {
      name: 'in-process',
      async listen(node: string, handler: MessageHandler): Promise<Listener> {
        if (closed) throw new TransportError('transport is closed');
        if (handlers.has(node)) throw new TransportError(`node ${node} is already served on this network`);
        handlers.set(node, handler);
        mine.add(node);
        return {
          async close() {
            if (handlers.get(node) === handler) handlers.delete(node);
            mine.delete(node);
          },
        };
      },
      request(node: string, msg: TransportMessage, { timeoutMs }): Promise<unknown> {
        if (closed) return Promise.reject(new TransportError('transport is closed'));
        const handler = handlers.get(node);
        if (!handler) return Promise.reject(new NodeUnreachableError(`node ${node} is not reachable`));
        let copy: TransportMessage;
        try {
          copy = structuredClone(msg);
        } catch (err) {
          return Promise.reject(new TransportError(`message to ${node} cannot be sent: ${(err as Error).message}`));
        }
        return new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new TimeoutError(`node ${node} did not answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
          // Run on a later tick, as a real transport would.
          queueMicrotask(() => {
            Promise.resolve()
              .then(() => handler(copy))
              .then(
                (reply) => {
                  clearTimeout(timer);
                  try {
                    resolve(structuredClone(reply));
                  } catch (err) {
                    reject(new TransportError(`reply from ${node} cannot be sent: ${(err as Error).message}`));
                  }
                },
                (err: unknown) => {
                  clearTimeout(timer);
                  reject(errorFromWire(errorToWire(err, node)));
                },
              );
          });
        });
      },
      async close() {
        closed = true;
        for (const node of mine) handlers.delete(node);
        mine.clear();
      },
    };
  }

  return { transport, nodes: () => [...handlers.keys()] };
}
