/**
 * How nodes reach each other: request/reply addressed by node name. Implementations
 * (in-process here, NATS in `@ringkv/nats`) must keep these promises:
 *
 * - a request to a node nobody serves rejects at once with {@link NodeUnreachableError};
 * - a request not answered within `timeoutMs` rejects with {@link TimeoutError} naming the node;
 * - an error thrown by the remote handler rejects the request with an error of the same
 *   class name and message (see `errorToWire` / `errorFromWire`);
 * - payloads are copied, never shared: bytes in, the same bytes out.
 */
export interface TransportMessage {
  /** `route` for routing calls; strategies add their own types (`ring.put`, ...). */
  readonly type: string;
  readonly body: unknown;
}

export type MessageHandler = (msg: TransportMessage) => unknown;

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
}
