/**
 * A ringkv node: a name, a strategy, a module registry and a transport. `route` is the one
 * contract: run `mod.fun(args)` on the node that owns `bucket` and return its result.
 *
 * @example
 * const network = createInProcessNetwork();
 * const foo = createNode({
 *   name: 'foo@computer-name',
 *   transport: network.transport(),
 *   strategy: createRangeStrategy([{ from: 'a', to: 'z', node: 'foo@computer-name' }]),
 * });
 * await foo.start();
 * await foo.route('hello', 'Kernel', 'node', []); // 'foo@computer-name'
 */
import { type BucketName, bucketBytes, describeType, renderBucket } from './bucket-name.js';
import { DEFAULT_HOP_TIMEOUT_MS, DEFAULT_MAX_HOPS } from './defaults.js';
import { ArgumentError, BadRequestError, RoutingLoopError } from './errors.js';
import { ROUTE_MESSAGE, routeMessageBody } from './kv-protocol.js';
import { silentLogger, type Logger } from './logger.js';
import { createModuleRegistry, type ModuleRegistry } from './module-registry.js';
import { createRangeStrategy } from './range-strategy.js';
import type { RouteCall, RouteContext, RouteOptions, Strategy, StrategyHost } from './strategy.js';
import type { Listener, Transport, TransportMessage } from './transport.js';

export type MessageBodyHandler = (body: unknown) => unknown;

export interface NodeOptions {
  /** This node's name, e.g. `foo@computer-name`. */
  name: string;
  transport: Transport;
  /** Where buckets live. @default an empty range table (every call fails with "could not find entry") */
  strategy?: Strategy;
  /** Functions this node will run. @default a registry with the built-ins (`Kernel.node`) */
  modules?: ModuleRegistry;
  /** @default 5000 */
  hopTimeoutMs?: number;
  /** @default 16 */
  maxHops?: number;
  logger?: Logger;
}

export interface RingkvNode extends StrategyHost {
  readonly name: string;
  readonly modules: ModuleRegistry;
  readonly transport: Transport;
  readonly logger: Logger;
  /** The strategy in effect now. */
  strategy(): Strategy;
  /** Replaces the strategy; the next call uses it. */
  setStrategy(strategy: Strategy): void;
  /** Per-hop timeout in effect now. */
  hopTimeoutMs(): number;
  setHopTimeoutMs(ms: number): void;
  /** Runs `mod.fun(...args)` on the node owning `bucket` and returns its result. */
  route(bucket: BucketName, mod: string, fun: string, args?: readonly unknown[], options?: RouteOptions): Promise<unknown>;
  /** Serves messages of `type` sent with {@link RingkvNode.send} (strategies use this). */
  handle(type: string, handler: MessageBodyHandler): void;
  /** Sends a message of `type` to `node` and waits for its reply. */
  send(node: string, type: string, body: unknown, timeoutMs?: number): Promise<unknown>;
  /** Starts serving requests addressed to this node. */
  start(): Promise<void>;
  /** Stops serving. */
  stop(): Promise<void>;
}

export function createNode(options: NodeOptions): RingkvNode {
  const self = options.name;
  if (typeof self !== 'string' || self === '') throw new ArgumentError('node name must be a non-empty string');
  const transport = options.transport;
  const modules = options.modules ?? createModuleRegistry();
  const logger = options.logger ?? silentLogger;
  let strategy: Strategy = options.strategy ?? createRangeStrategy([]);
  let hopTimeoutMs = checkTimeout(options.hopTimeoutMs ?? DEFAULT_HOP_TIMEOUT_MS);
  const maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
  const handlers = new Map<string, MessageBodyHandler>();
  let listener: Listener | undefined;
  let detach: (() => void | Promise<void>) | void = undefined;

  const node: RingkvNode = {
    name: self,
    modules,
    transport,
    logger,
    strategy: () => strategy,
    setStrategy(next) {
      const undo = detach;
      detach = undefined;
      void Promise.resolve(undo?.()).catch((err: unknown) => logger.warn(`detaching strategy failed: ${(err as Error).message}`));
      strategy = next;
      detach = next.attach?.(node) ?? (() => {});
    },
    hopTimeoutMs: () => hopTimeoutMs,
    setHopTimeoutMs(ms) {
      hopTimeoutMs = checkTimeout(ms);
    },
    route(bucket, mod, fun, args = [], routeOptions) {
      // One promise per call, not a chain of async layers: on the single-node path the function
      // runs now and its answer is wrapped once. A throw (bad call, no entry, undefined
      // function) still reaches the caller as a rejection, never synchronously.
      try {
        const call: RouteCall = routeOptions ? { bucket, mod, fun, args, path: [], options: routeOptions } : { bucket, mod, fun, args, path: [] };
        return Promise.resolve(dispatch(validateCall(call)));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    handle(type, handler) {
      if (type === ROUTE_MESSAGE) throw new ArgumentError(`message type "${ROUTE_MESSAGE}" is reserved`);
      handlers.set(type, handler);
    },
    send(to, type, body, timeoutMs) {
      return transport.request(to, { type, body }, { timeoutMs: timeoutMs ?? hopTimeoutMs });
    },
    async start() {
      if (detach === undefined) detach = strategy.attach?.(node) ?? (() => {});
      if (listener) return;
      listener = await transport.listen(self, onMessage);
    },
    async stop() {
      const l = listener;
      listener = undefined;
      await l?.close();
      const undo = detach;
      detach = undefined;
      await undo?.();
    },
  };
  detach = strategy.attach?.(node) ?? (() => {});

  function timeoutFor(call: RouteCall): number {
    return call.options?.timeoutMs ?? hopTimeoutMs;
  }

  const ctxFor = (call: RouteCall): RouteContext => ({
    self,
    timeoutMs: timeoutFor(call),
    kindOf: (mod, fun, arity) => modules.resolve(mod, fun, arity, self).kind,
    applyLocal: (c, meta) => {
      try {
        return Promise.resolve(applyLocal(c, meta));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    forward: (to, c) => forward(to, c),
    send: (to, type, body, t) => node.send(to, type, body, t ?? timeoutFor(call)),
  });

  /** The call's answer: a value, or a promise of one. May throw; callers turn that into a rejection. */
  function dispatch(call: RouteCall): unknown {
    // Placement first: a bucket with no entry fails here, before anything is sent.
    const current = strategy;
    const placement = current.placement(call.bucket);
    if (current.execute) return current.execute(call, placement, ctxFor(call));
    const owner = placement.replicas[0]?.node;
    if (owner === undefined) throw new RoutingLoopError(`strategy ${current.name} gave no node for ${renderBucket(call.bucket)}`);
    return owner === self ? applyLocal(call) : forward(owner, call);
  }

  /** Runs a registered function here: its answer as is (a value or a promise); may throw. */
  function applyLocal(call: RouteCall, meta: Record<string, unknown> = {}): unknown {
    const def = modules.resolve(call.mod, call.fun, call.args.length, self);
    return def.fn({ node: self, bucket: call.bucket, meta }, ...call.args);
  }

  function forward(to: string, call: RouteCall): Promise<unknown> {
    const path = [...call.path, self];
    if (path.includes(to)) {
      return Promise.reject(
        new RoutingLoopError(
          `routing loop: call for ${renderBucket(call.bucket)} would go back to ${to} after ${path.join(' -> ')}; the nodes' tables point at each other`,
        ),
      );
    }
    if (path.length > maxHops) {
      return Promise.reject(
        new RoutingLoopError(`hop limit of ${maxHops} reached routing ${renderBucket(call.bucket)} via ${path.join(' -> ')}`),
      );
    }
    const body = routeMessageBody(call.bucket, call.mod, call.fun, call.args, call.options, path);
    return transport.request(to, { type: ROUTE_MESSAGE, body }, { timeoutMs: timeoutFor(call) });
  }

  /** A message's answer, always as a promise: a handler that throws answers a rejection. */
  function onMessage(msg: TransportMessage): Promise<unknown> {
    try {
      return Promise.resolve(answerMessage(msg));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  function answerMessage(msg: TransportMessage): unknown {
    if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
      throw new BadRequestError(`malformed message on node ${self}: expected {type, body}`);
    }
    if (msg.type === ROUTE_MESSAGE) return dispatch(validateCall(msg.body as Partial<RouteCall>, true));
    const handler = handlers.get(msg.type);
    if (!handler) throw new BadRequestError(`node ${self} does not handle messages of type ${JSON.stringify(msg.type)}`);
    return handler(msg.body);
  }

  return node;
}

/** Checks a call's shape; `remote` calls report BadRequestError, local ones ArgumentError. */
function validateCall(c: Partial<RouteCall> | undefined, remote = false): RouteCall {
  const Err = remote ? BadRequestError : ArgumentError;
  if (c === null || typeof c !== 'object') throw new Err('routing call must be an object');
  bucketBytesOr(c.bucket, Err);
  if (typeof c.mod !== 'string' || c.mod === '') throw new Err(`module must be a non-empty string, got ${describeType(c.mod)}`);
  if (typeof c.fun !== 'string' || c.fun === '') throw new Err(`function must be a non-empty string, got ${describeType(c.fun)}`);
  if (!Array.isArray(c.args)) throw new Err(`args must be an array, got ${describeType(c.args)}`);
  const path = c.path ?? [];
  if (!Array.isArray(path) || !path.every((p) => typeof p === 'string')) throw new Err('path must be an array of node names');
  if (c.options !== undefined && (c.options === null || typeof c.options !== 'object')) throw new Err('options must be an object');
  return c as RouteCall;
}

function bucketBytesOr(bucket: unknown, Err: typeof ArgumentError | typeof BadRequestError): void {
  // Every string is a bucket name (its UTF-8 bytes): nothing to check, nothing to encode.
  if (typeof bucket === 'string') return;
  try {
    bucketBytes(bucket as BucketName);
  } catch (err) {
    throw new Err((err as Error).message);
  }
}

function checkTimeout(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new ArgumentError(`hop timeout must be a positive number of ms, got ${ms}`);
  return ms;
}
