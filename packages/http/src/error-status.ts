/**
 * Which HTTP status answers an error from `route`, and the one-line reason sent with it.
 * Errors keep their class name across nodes (`name`), which is what is matched here: a
 * QuorumError raised on another node arrives as a RemoteError named `QuorumError`.
 *
 * | error | status |
 * |---|---|
 * | bad argument (ArgumentError, BadRequestError, EmptyBucketError), HttpError | 400 (or its own) |
 * | QuorumError (with what answered), TimeoutError, NodeUnreachableError, TransportError, NoEntryError | 503 |
 * | anything else (RoutingLoopError, UndefinedFunctionError, storage errors) | 500 |
 */
import { HttpError } from './http-errors.js';

export interface ErrorAnswer {
  status: number;
  /** One line: what went wrong, without a trailing newline. */
  reason: string;
  /** The error's class name (sent as X-Ringkv-Error). */
  name: string;
  /** For metrics: ok, not_found, bad_request, quorum, timeout, unavailable, error. */
  outcome: string;
}

const BAD_REQUEST = new Set(['ArgumentError', 'BadRequestError', 'EmptyBucketError', 'BadEncodingError', 'BadHttpRequestError']);
const UNAVAILABLE = new Set(['NodeUnreachableError', 'TransportError', 'NoEntryError']);

export function errorAnswer(err: unknown): ErrorAnswer {
  const e = err instanceof Error ? err : new Error(String(err));
  const name = e.name || 'Error';
  const reason = oneLine(`${name}: ${e.message}`);
  if (e instanceof HttpError) return { status: e.status, reason, name, outcome: e.status === 413 ? 'too_large' : 'bad_request' };
  if (BAD_REQUEST.has(name)) return { status: 400, reason, name, outcome: 'bad_request' };
  if (name === 'QuorumError') return { status: 503, reason, name, outcome: 'quorum' };
  if (name === 'TimeoutError') return { status: 503, reason, name, outcome: 'timeout' };
  if (UNAVAILABLE.has(name)) return { status: 503, reason, name, outcome: 'unavailable' };
  return { status: 500, reason, name, outcome: 'error' };
}

/** One line of printable text, bounded: reasons quote user input (bucket names) and must not forge lines. */
export function oneLine(text: string, max = 2000): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}
