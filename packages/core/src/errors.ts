/**
 * One error shape for all of ringkv: each class sets `name` to its class name and passes
 * `cause` through. Errors that cross the wire are flattened with {@link errorToWire} and
 * rebuilt with {@link errorFromWire}, keeping class name and message.
 */

export interface RingkvErrorOptions {
  cause?: unknown;
}

/** Base class of every error ringkv raises itself. */
export class RingkvError extends Error {
  /** Name of the node whose code raised the error, when known. */
  origin?: string;
  constructor(message: string, options?: RingkvErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The routing strategy has no entry for the bucket (the guide's `could not find entry`). */
export class NoEntryError extends RingkvError {}
/** The bucket name is empty: no first byte to route on. */
export class EmptyBucketError extends RingkvError {}
/** A call came back to a node it had already visited, or exceeded the hop limit. */
export class RoutingLoopError extends RingkvError {}
/** `Mod.fun/arity` is not registered on the node asked to run it. */
export class UndefinedFunctionError extends RingkvError {}
/** Nobody serves the node the call must go to. */
export class NodeUnreachableError extends RingkvError {}
/** A hop did not answer within its timeout. */
export class TimeoutError extends RingkvError {}
/** The transport cannot carry the call (too large, connection down, closed). */
export class TransportError extends RingkvError {}
/** A message that could not be decoded or has the wrong shape. */
export class BadRequestError extends RingkvError {}
/** Configuration that fails validation; the message names the field. */
export class ConfigError extends RingkvError {}
/** Invalid arguments given to a ringkv API. */
export class ArgumentError extends RingkvError {}
/** A compare-and-set on the cluster state lost: the entry changed since it was read. */
export class RevisionMismatchError extends RingkvError {}
/**
 * An error raised on another node whose class is not known here: `name` is the remote
 * class name, `message` the remote message.
 */
export class RemoteError extends RingkvError {}

type ErrorClass = new (message: string, options?: RingkvErrorOptions) => Error;

const knownErrors = new Map<string, ErrorClass>();

/**
 * Makes errors of `cls` come back from the wire as instances of `cls` (not only with its
 * name). Built-in ringkv errors are registered already.
 */
export function registerErrorClass(cls: ErrorClass): void {
  knownErrors.set(cls.name, cls);
}

for (const cls of [
  RingkvError,
  NoEntryError,
  EmptyBucketError,
  RoutingLoopError,
  UndefinedFunctionError,
  NodeUnreachableError,
  TimeoutError,
  TransportError,
  BadRequestError,
  ConfigError,
  ArgumentError,
  RevisionMismatchError,
  RemoteError,
  TypeError,
  RangeError,
  SyntaxError,
  Error,
]) {
  registerErrorClass(cls);
}

/** An error as it travels between nodes. */
export interface WireError {
  name: string;
  message: string;
  origin?: string;
  cause?: WireError;
  /** A failed write that may still have been stored (see QuorumError in @ringkv/ring). */
  mayHaveApplied?: boolean;
}

const MAX_CAUSE_DEPTH = 4;

/** Flattens any thrown value into a {@link WireError}. */
export function errorToWire(err: unknown, origin?: string, depth = 0): WireError {
  if (err instanceof Error) {
    const wire: WireError = { name: err.name, message: err.message };
    const from = (err as RingkvError).origin ?? origin;
    if (from !== undefined) wire.origin = from;
    const may = (err as { mayHaveApplied?: unknown }).mayHaveApplied;
    if (typeof may === 'boolean') wire.mayHaveApplied = may;
    if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
      wire.cause = errorToWire(err.cause, undefined, depth + 1);
    }
    return wire;
  }
  return { name: 'Error', message: `non-error value thrown: ${safeString(err)}`, ...(origin ? { origin } : {}) };
}

/** Rebuilds an error from its wire form: same class when known here, else a {@link RemoteError} carrying the remote name. */
export function errorFromWire(wire: WireError): Error {
  const name = typeof wire?.name === 'string' && wire.name !== '' ? wire.name : 'Error';
  const message = typeof wire?.message === 'string' ? wire.message : String(wire?.message);
  const cause = wire?.cause ? errorFromWire(wire.cause) : undefined;
  const cls = knownErrors.get(name) ?? RemoteError;
  // Build without running the class constructor: user classes may take other arguments.
  const err = Object.create(cls.prototype) as Error & { origin?: string };
  Object.defineProperty(err, 'message', { value: message, writable: true, configurable: true });
  Object.defineProperty(err, 'name', { value: name, writable: true, configurable: true });
  Object.defineProperty(err, 'stack', {
    value: `${name}: ${message}\n    at <remote ${wire?.origin ?? 'node'}>`,
    writable: true,
    configurable: true,
  });
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true });
  if (typeof wire?.origin === 'string') err.origin = wire.origin;
  if (typeof wire?.mayHaveApplied === 'boolean') Object.defineProperty(err, 'mayHaveApplied', { value: wire.mayHaveApplied, writable: true, configurable: true, enumerable: true });
  return err;
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
