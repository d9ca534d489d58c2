import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MAX_WIRE_DEPTH, TransportError } from '@ringkv/core';
import { decodeRequest, encodeError, encodeRequest, encodeResult } from '../src/index.js';
import { encodeEnvelope } from '../src/wire-encoder.js';

// The codec's msgpackr, as it was configured before the one-pass encoder: the oracle.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, copyBuffers: true, moreTypes: false });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Strings that reach every branch: ASCII, 2/3/4-byte UTF-8, lone surrogates, around 0x20/0x40/0x100/0x10000 bytes. */
const anyString = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
  fc.constantFrom('\ud800', 'a\udc00b', '\ud83d\ude00', 'é'.repeat(40), 'x'.repeat(0x1f), 'x'.repeat(0x20), 'x'.repeat(0x3f), 'x'.repeat(0x40)),
  fc.constantFrom('y'.repeat(0xff), 'y'.repeat(0x100), 'y'.repeat(0xffff), 'y'.repeat(0x10000), '\ud800'.repeat(100)),
);
const anyNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -0x80000000, -0x80000001),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, NaN, Infinity, -Infinity, 1764650000000),
);
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(new Uint8Array(0xff), new Uint8Array(0x100), new Uint8Array(0x10000), Buffer.from('buf')));
const { value: anyWireValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, undefined, true, false),
    anyNumber,
    anyString,
    anyBytes,
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(anyString, tie('value'), { maxKeys: 20 }),
  ),
}));

describe('one-pass wire encoder', () => {
  it('writes what msgpackr writes, byte for byte, for any value of the payload domain', () => {
    fc.assert(
      fc.property(fc.string(), anyWireValue, (type, body) => {
        const fast = encodeEnvelope(type, body);
        expect(fast, 'left to the careful path').toBeDefined();
        expect(hex(fast!)).toBe(hex(packr.pack([type, body])));
        expect(hex(encodeRequest({ type, body }))).toBe(hex(packr.pack([type, body])));
        expect(hex(encodeResult(body))).toBe(hex(packr.pack([0, body])));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes null-prototype objects, frozen objects and large arrays as msgpackr does', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1, b: new Uint8Array([1]) });
    const frozen = Object.freeze({ vv: Object.freeze({ 'a@h#1': 3 }), ts: 1764650000000, actor: 'a@h#1' });
    const big = Array.from({ length: 70_000 }, (_, i) => i);
    for (const v of [bare, frozen, big, { hasOwnProperty: 1, x: 2 }, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]))]) {
      expect(hex(encodeEnvelope('t', v)!)).toBe(hex(packr.pack(['t', v])));
    }
  });

  it('leaves bigints to msgpackr, with the same bytes as before', () => {
    expect(encodeEnvelope('t', { n: 5n })).toBeUndefined();
    expect(hex(encodeRequest({ type: 't', body: { n: 5n } }))).toBe(hex(packr.pack(['t', { n: 5n }])));
  });

  it('refuses what the payload domain refuses, with the careful path\'s message naming where', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_WIRE_DEPTH; i++) deep = [deep];
    const cases: Array<[unknown, RegExp]> = [
      [{ m: new Map() }, /body\.m is a Map/],
      [{ d: [new Date(0)] }, /body\.d\[0\] is a Date/],
      [{ f: () => 1 }, /body\.f is a function/],
      [{ s: Symbol('x') }, /body\.s is a symbol/],
      [{ [Symbol('k')]: 1 }, /symbol keys/],
      [new Uint16Array(2), /body is a Uint16Array/],
      [cyclic, /body\.self is a reference back to an enclosing value/],
      [deep, /nested deeper than 64 levels/],
      [{ n: 2n ** 64n }, /bigint outside 64-bit integers/],
      [new (class Point { x = 1 })(), /body is a Point/],
    ];
    for (const [body, message] of cases) {
      expect(encodeEnvelope('t', body)).toBeUndefined();
      expect(() => encodeRequest({ type: 't', body })).toThrow(TransportError);
      expect(() => encodeRequest({ type: 't', body })).toThrow(message);
    }
    expect(() => encodeResult({ m: new Set() })).toThrow(/reply\.m is a Set/);
  });

  it('round-trips through the decoder, and each message owns its bytes', () => {
    const first = encodeRequest({ type: 'ring.batch', body: { items: [['ring.replicate', { key: new Uint8Array([1, 2, 3]) }]] } });
    const second = encodeRequest({ type: 'x', body: 'y'.repeat(100_000) });
    expect(decodeRequest(first)).toEqual({ type: 'ring.batch', body: { items: [['ring.replicate', { key: new Uint8Array([1, 2, 3]) }]] } });
    expect((decodeRequest(second).body as string).length).toBe(100_000);
    expect(hex(encodeError({ name: 'Error', message: 'm' }))).toBe(hex(packr.pack([1, { name: 'Error', message: 'm' }])));
  });
});
