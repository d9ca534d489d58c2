/**
 * What a transport payload may hold, the same on every transport. A value that a transport
 * could not carry faithfully is refused before it is sent, instead of arriving changed (over
 * MessagePack a `Map` becomes a plain object and a `Date` stays a `Date`; in-process,
 * `structuredClone` kept both). The domain:
 *
 * - `null`, `undefined`, booleans, strings;
 * - numbers (`-0` arrives as `0`: MessagePack has no negative zero);
 * - bigints within 64-bit integers;
 * - byte strings: `Uint8Array` (a `Buffer` arrives as a plain `Uint8Array`);
 * - arrays and plain objects (prototype `Object` or `null`) with string keys, nested at most
 *   {@link MAX_WIRE_DEPTH} deep, without cycles.
 *
 * Anything else (Map, Set, Date, RegExp, other typed arrays, class instances, functions,
 * symbols) is refused with a {@link TransportError} naming where it was and what it is.
 *
 * @example
 * copyWireValue({ bucket: 'b', args: [new Uint8Array([1])] }, 'message'); // a deep copy
 * copyWireValue({ m: new Map() }, 'message'); // throws: message.m is a Map, which ...
 */
import { TransportError } from './errors.js';

export const MAX_WIRE_DEPTH = 64;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** Throws {@link TransportError} if `value` is outside the payload domain. */
export function checkWireValue(value: unknown, where: string): void {
  walk(value, where, 0, false, new Set());
}

/** A deep copy of `value` as a receiver would see it; throws like {@link checkWireValue}. */
export function copyWireValue<T>(value: T, where: string): T {
  return walk(value, where, 0, true, new Set()) as T;
}

function walk(value: unknown, where: string, depth: number, copy: boolean, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      return Object.is(value, -0) ? 0 : value;
    case 'bigint':
      if (value < INT64_MIN || value > UINT64_MAX) refuse(where, 'a bigint outside 64-bit integers');
      return value;
    case 'object':
      break;
    default:
      return refuse(where, `a ${typeof value}`);
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) {
    if (!copy) return value;
    return new Uint8Array(value);
  }
  if (depth >= MAX_WIRE_DEPTH) refuse(where, `nested deeper than ${MAX_WIRE_DEPTH} levels`);
  if (seen.has(value)) refuse(where, 'a reference back to an enclosing value (a cycle)');
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const out: unknown[] | undefined = copy ? new Array<unknown>(value.length) : undefined;
      for (let i = 0; i < value.length; i++) {
        const v = walk(value[i], `${where}[${i}]`, depth + 1, copy, seen);
        if (out) out[i] = v;
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const kind = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return refuse(where, typeof kind === 'string' && kind !== '' ? `a ${kind}` : 'an object that is not a plain object');
    }
    const out: Record<string, unknown> | undefined = copy ? {} : undefined;
    for (const key of Object.keys(value)) {
      const v = walk((value as Record<string, unknown>)[key], `${where}.${key}`, depth + 1, copy, seen);
      if (out) out[key] = v;
    }
    if (Object.getOwnPropertySymbols(value).length > 0) refuse(where, 'an object with symbol keys');
    return out ?? value;
  } finally {
    seen.delete(value);
  }
}

function refuse(where: string, what: string): never {
  throw new TransportError(
    `${where} is ${what}, which a transport cannot carry: payloads hold only null, undefined, booleans, numbers, 64-bit bigints, strings, Uint8Array, arrays and plain objects`,
  );
}
