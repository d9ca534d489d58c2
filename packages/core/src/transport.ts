/**
 * How nodes reach each other: request/reply addressed by node name. Implementations
 * (in-process here, NATS in `@ringkv/nats`) must keep these promises:
 *
 * - a request to a node nobody serves rejects at once with {@link NodeUnreachableError};
 * - a request not answered within `timeoutMs` rejects with {@link TimeoutError} naming the node;
 * - an error thrown by the remote handler rejects the request with an error of the same
 *   class name and message (see `errorToWire` / `errorFromWire`);
 * - payloads are copied, never shared: bytes in, the same bytes out;
 * - a payload holds only the values of `wire-value.ts` (plain data and bytes); anything else
 *   is refused with a TransportError before it is sent, so every transport delivers the same.
 *
 * Optionally a transport also broadcasts (`publish` / `subscribe` on a topic), which change
 * feeds such as the text protocol's SUBSCRIBE use. Delivery is at most once, with no reply.
 */
import { ArgumentError } from './errors.js';

export interface TransportMessage {
  /** `route` for routing calls; strategies add their own types (`ring.put`, ...). */
  readonly type: string;
  readonly body: unknown;
}

export type MessageHandler = (msg: TransportMessage) => unknown;

/**
 * A message that asks "is anyone serving this node?". The NATS transport answers it itself
 * (who it is: node, instance, pid, host); elsewhere any answer, even an error, means the node
 * is there, and `NodeUnreachableError` that it is not.
 */
export const TRANSPORT_PROBE_MESSAGE = 'ringkv.probe';

/** Receives what is published on a topic. */
export type TopicHandler = (body: unknown) => void;

/** A topic: dot-separated tokens of ASCII letters, digits, `_` and `-` (valid as a NATS subject). */
export const TOPIC_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Returns `topic` if it is valid; throws {@link ArgumentError} saying why otherwise. */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic) || topic.length > 256) {
    throw new ArgumentError(
      `topic must be dot-separated tokens of letters, digits, _ and - (at most 256 characters), got ${JSON.stringify(String(topic).slice(0, 300))}`,
    );
  }
  return topic;
}

export interface Listener {
  /** Stops serving; requests already being handled still get their reply. */
  close(): Promise<void>;
}

export interface RequestOptions {
  timeoutMs: number;
}

export interface Transport {
  /** `in-process`, `nats`, ... */
  readonly name: string;
  /** Serve requests addressed to `node`. */
  listen(node: string, handler: MessageHandler): Promise<Listener>;
  /** Send `msg` to `node` and wait for its reply. */
  request(node: string, msg: TransportMessage, options: RequestOptions): Promise<unknown>;
  /** Releases connections; pending requests reject. */
  close(): Promise<void>;
  /**
   * Optional: sends `body` to every current subscriber of `topic`, on every node, at most
   * once, without a reply. Resolves once handed to the network.
   */
  publish?(topic: string, body: unknown): Promise<void>;
  /** Optional: calls `handler` with what is published on `topic` until the listener is closed. */
  subscribe?(topic: string, handler: TopicHandler): Promise<Listener>;
}
