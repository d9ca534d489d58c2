/**
 * The payload walk: the quick pass every message takes answers exactly what the careful walk
 * answers (the same copies, the same refusals with the same words), and a copy shares no
 * object with its original, so a receiver changing what it got cannot reach the sender.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkWireValue, copyWireValue, MAX_WIRE_DEPTH, TransportError } from '../src/index.js';

/** Values in the domain: what JSON has, plus undefined, bigints, bytes and null-prototype objects. */
const inDomain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, undefined, true, false, 0, -0, 1.5, NaN, Infinity, ''),
    fc.string({ maxLength: 8 }),
    fc.double(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.uint8Array({ maxLength: 8 }),
    fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 3 }).map((o) => Object.assign(Object.create(null) as object, o)),
  ),
})).value;

/** Every object (arrays, plain objects, byte arrays) inside a value. */
function objectsIn(v: unknown, out = new Set<object>()): Set<object> {
  if (v === null || typeof v !== 'object') return out;
  out.add(v);
  if (v instanceof Uint8Array) return out;
  for (const x of Object.values(v)) objectsIn(x, out);
  return out;
}

/** The value as the domain defines the copy: -0 as 0, Buffers as plain bytes. */
function expected(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(expected);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expected(x)]));
  return v;
}

describe('copyWireValue and checkWireValue', () => {
  it('copy any value of the domain faithfully, sharing no object with the original', () => {
    fc.assert(
      fc.property(inDomain, (v) => {
        const copy = copyWireValue(v, 'body');
        expect(copy).toStrictEqual(expected(v) as never);
        const mine = objectsIn(v);
        for (const o of objectsIn(copy)) expect(mine.has(o)).toBe(false);
        expect(() => checkWireValue(v, 'body')).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('a receiver changing its copy cannot change the sender’s value', () => {
    const sent = { objects: [{ key: new Uint8Array([1, 2]), siblings: [{ version: { vv: { a: 1 } } }] }] };
    const got = copyWireValue(sent, 'body');
    got.objects[0]!.key[0] = 9;
    got.objects[0]!.siblings[0]!.version.vv.a = 7;
    got.objects.push({ key: new Uint8Array(), siblings: [] });
    expect(sent).toEqual({ objects: [{ key: new Uint8Array([1, 2]), siblings: [{ version: { vv: { a: 1 } } }] }] });
  });

  it('refuse what a wire cannot carry wherever it hides, naming the place', () => {
    const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
    const cyclic: Record<string, unknown> = { a: [1, { b: null }] };
    ((cyclic.a as unknown[])[1] as Record<string, unknown>).b = cyclic;
    const shared = { x: 1 };
    const cases: Array<[unknown, RegExp]> = [
      [{ a: [1, 2, { m: new Map() }] }, /^body\.a\[2\]\.m is a Map, which a transport cannot carry/],
      [[new Date(0)], /^body\[0\] is a Date/],
      [{ f: [() => 1] }, /^body\.f\[0\] is a function/],
      [{ s: Symbol('x') }, /^body\.s is a symbol/],
      [{ [Symbol('k')]: 1, ok: 2 }, /^body is an object with symbol keys/],
      [{ big: [2n ** 64n] }, /^body\.big\[0\] is a bigint outside 64-bit integers/],
      [{ t: new Int8Array(1) }, /^body\.t is a Int8Array/],
      [cyclic, /^body\.a\[1\]\.b is a reference back to an enclosing value \(a cycle\)/],
      [deep(MAX_WIRE_DEPTH + 1), new RegExp(`is nested deeper than ${MAX_WIRE_DEPTH} levels`)],
    ];
    for (const [value, message] of cases) {
      for (const run of [() => copyWireValue(value, 'body'), () => checkWireValue(value, 'body')]) {
        let caught: unknown;
        try {
          run();
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(TransportError);
        expect((caught as Error).message).toMatch(message);
      }
    }
    // At the limit, and a value reached twice without a cycle: both carried.
    expect(copyWireValue(deep(MAX_WIRE_DEPTH), 'body')).toEqual(deep(MAX_WIRE_DEPTH));
    expect(copyWireValue({ a: shared, b: [shared] }, 'body')).toEqual({ a: { x: 1 }, b: [{ x: 1 }] });
  });
});
