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
  if (quick(value, 0, false) !== REFUSED) return;
  walk(value, { root: where, keys: [], parents: [] }, false);
}

/** A deep copy of `value` as a receiver would see it; throws like {@link checkWireValue}. */
export function copyWireValue<T>(value: T, where: string): T {
  const copy = quick(value, 0, true);
  if (copy !== REFUSED) return copy as T;
  return walk(value, { root: where, keys: [], parents: [] }, true) as T;
}

/** What {@link quick} answers for a value outside the domain. */
const REFUSED: object = Object.freeze({});

/**
 * The walk every message takes (the in-process transport copies each one, NATS checks each
 * one): no path kept, no cycle search. It only says whether the value is in the domain; on
 * anything it refuses, the careful {@link walk} runs to say where and why, with the same
 * answer for everything in the domain. A cycle needs no search here: it runs into the depth
 * limit (which {@link walk} then reports as the cycle it is).
 */
function quick(value: unknown, depth: number, copy: boolean): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      // -0 === 0: negative zero arrives as 0.
      return value === 0 ? 0 : value;
    case 'bigint':
      return value < INT64_MIN || value > UINT64_MAX ? REFUSED : value;
    case 'object':
      break;
    default:
      return REFUSED;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return copy ? new Uint8Array(value) : value;
  if (depth >= MAX_WIRE_DEPTH) return REFUSED;
  if (Array.isArray(value)) {
    const n = value.length;
    const out: unknown[] | undefined = copy ? new Array<unknown>(n) : undefined;
    for (let i = 0; i < n; i++) {
      const v = quick(value[i], depth + 1, copy);
      if (v === REFUSED) return REFUSED;
      if (out) out[i] = v;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return REFUSED;
  const out: Record<string, unknown> | undefined = copy ? {} : undefined;
  for (const key of Object.keys(value)) {
    const v = quick((value as Record<string, unknown>)[key], depth + 1, copy);
    if (v === REFUSED) return REFUSED;
    if (out) out[key] = v;
  }
  if (Object.getOwnPropertySymbols(value).length > 0) return REFUSED;
  return out ?? value;
}

/**
 * Where the walk is: the keys from the root, and the arrays and objects enclosing the value
 * (a value among them is a cycle). The path is written out only when something is refused:
 * building it for every element was most of what checking a large payload cost.
 */
interface Trail {
  readonly root: string;
  readonly keys: (string | number)[];
  readonly parents: object[];
}

function walk(value: unknown, trail: Trail, copy: boolean): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      return Object.is(value, -0) ? 0 : value;
    case 'bigint':
      if (value < INT64_MIN || value > UINT64_MAX) refuse(trail, 'a bigint outside 64-bit integers');
      return value;
    case 'object':
      break;
    default:
      return refuse(trail, `a ${typeof value}`);
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) {
    if (!copy) return value;
    return new Uint8Array(value);
  }
  const { keys, parents } = trail;
  if (parents.length >= MAX_WIRE_DEPTH) refuse(trail, `nested deeper than ${MAX_WIRE_DEPTH} levels`);
  // At most 64 enclosing values, usually a handful: a scan is cheaper than a Set.
  if (parents.includes(value)) refuse(trail, 'a reference back to an enclosing value (a cycle)');
  if (Array.isArray(value)) {
    parents.push(value);
    const out: unknown[] | undefined = copy ? new Array<unknown>(value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      keys.push(i);
      const v = walk(value[i], trail, copy);
      keys.pop();
      if (out) out[i] = v;
    }
    parents.pop();
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return refuse(trail, typeof kind === 'string' && kind !== '' ? `a ${kind}` : 'an object that is not a plain object');
  }
  parents.push(value);
  const out: Record<string, unknown> | undefined = copy ? {} : undefined;
  for (const key of Object.keys(value)) {
    keys.push(key);
    const v = walk((value as Record<string, unknown>)[key], trail, copy);
    keys.pop();
    if (out) out[key] = v;
  }
  parents.pop();
  if (Object.getOwnPropertySymbols(value).length > 0) refuse(trail, 'an object with symbol keys');
  return out ?? value;
}

function refuse(trail: Trail, what: string): never {
  let where = trail.root;
  for (const k of trail.keys) where += typeof k === 'number' ? `[${k}]` : `.${k}`;
  throw new TransportError(
    `${where} is ${what}, which a transport cannot carry: payloads hold only null, undefined, booleans, numbers, 64-bit bigints, strings, Uint8Array, arrays and plain objects`,
  );
}
