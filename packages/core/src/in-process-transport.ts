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
import { checkWireValue, copyWireValue } from './wire-value.js';
import { checkTopic, type Listener, type MessageHandler, type TopicHandler, type Transport, type TransportMessage } from './transport.js';

export interface InProcessNetwork {
  /** A transport attached to this network. */
  transport(): Transport;
  /** Names of the nodes currently served. */
  nodes(): string[];
}

export function createInProcessNetwork(): InProcessNetwork {
  const handlers = new Map<string, MessageHandler>();
  const topics = new Map<string, Set<TopicHandler>>();

  function transport(): Transport {
    let closed = false;
    const mine = new Set<string>();
    const pending = new Set<() => void>();
    const myTopics = new Set<{ topic: string; handler: TopicHandler }>();
    const unsubscribe = (sub: { topic: string; handler: TopicHandler }) => {
      myTopics.delete(sub);
      const set = topics.get(sub.topic);
      set?.delete(sub.handler);
      if (set?.size === 0) topics.delete(sub.topic);
    };
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
          copy = { type: msg.type, body: copyWireValue(msg.body, 'body') };
        } catch (err) {
          return Promise.reject(new TransportError(`message to ${node} cannot be sent: ${(err as Error).message}`));
        }
        return new Promise((resolve, reject) => {
          // Settled once: by the reply, the timeout, or this transport closing.
          const settle = (fn: () => void) => {
            clearTimeout(timer);
            pending.delete(abandon);
            fn();
          };
          const abandon = () => settle(() => reject(new TransportError(`transport closed before node ${node} answered`)));
          pending.add(abandon);
          const timer = setTimeout(
            () => settle(() => reject(new TimeoutError(`node ${node} did not answer within ${timeoutMs} ms`))),
            timeoutMs,
          );
          const failed = (err: unknown) => settle(() => reject(errorFromWire(errorToWire(err, node))));
          // Run on a later tick, as a real transport would.
          queueMicrotask(() => {
            let answer: unknown;
            try {
              answer = handler(copy);
            } catch (err) {
              failed(err);
              return;
            }
            Promise.resolve(answer).then((reply) => {
              settle(() => {
                try {
                  resolve(copyWireValue(reply, 'reply'));
                } catch (err) {
                  reject(new TransportError(`reply from ${node} cannot be sent: ${(err as Error).message}`));
                }
              });
            }, failed);
          });
        });
      },
      async publish(topic: string, body: unknown): Promise<void> {
        if (closed) throw new TransportError('transport is closed');
        checkTopic(topic);
        // Refused even with nobody listening: the same body fails the same way everywhere.
        try {
          checkWireValue(body, 'body');
        } catch (err) {
          throw new TransportError(`message on topic ${topic} cannot be sent: ${(err as Error).message}`);
        }
        const subscribers = topics.get(topic);
        if (!subscribers) return;
        for (const handler of subscribers) {
          // One copy per subscriber, delivered on a later tick, as over a network.
          let copy: unknown;
          try {
            copy = copyWireValue(body, 'body');
          } catch (err) {
            throw new TransportError(`message on topic ${topic} cannot be sent: ${(err as Error).message}`);
          }
          queueMicrotask(() => {
            try {
              handler(copy);
            } catch {
              // A subscriber's failure is its own; the publisher never hears of it.
            }
          });
        }
      },
      async subscribe(topic: string, handler: TopicHandler): Promise<Listener> {
        if (closed) throw new TransportError('transport is closed');
        checkTopic(topic);
        const sub = { topic, handler: (body: unknown) => handler(body) };
        let set = topics.get(topic);
        if (!set) topics.set(topic, (set = new Set()));
        set.add(sub.handler);
        myTopics.add(sub);
        return { close: async () => unsubscribe(sub) };
      },
      async close() {
        closed = true;
        for (const node of mine) handlers.delete(node);
        mine.clear();
        for (const sub of [...myTopics]) unsubscribe(sub);
        for (const abandon of [...pending]) abandon();
      },
    };
  }

  return { transport, nodes: () => [...handlers.keys()] };
}
