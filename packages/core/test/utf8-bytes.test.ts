import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketBytes, utf8Bytes } from '../src/index.js';

const encoder = new TextEncoder();

describe('utf8Bytes', () => {
  it('gives exactly what TextEncoder gives, as a plain Uint8Array, for any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme-ascii', maxLength: 400 })), (s) => {
        const bytes = utf8Bytes(s);
        expect(bytes.constructor).toBe(Uint8Array);
        expect([...bytes]).toEqual([...encoder.encode(s)]);
      }),
      { numRuns: 500 },
    );
  });

  it('handles the edges: empty, ASCII up to and past the loop, non-ASCII, lone surrogates', () => {
    for (const s of ['', 'a', 'x'.repeat(256), 'x'.repeat(257), 'ção', 'k\u007f', 'k\u0080', '\ud800', 'a\udfffb', '🙂']) {
      expect([...utf8Bytes(s)]).toEqual([...encoder.encode(s)]);
      expect([...bucketBytes(s)]).toEqual([...encoder.encode(s)]);
    }
  });

  it('gives a fresh array each time (callers may keep or change what they get)', () => {
    const a = utf8Bytes('bucket');
    const b = utf8Bytes('bucket');
    expect(a).not.toBe(b);
    a[0] = 0;
    expect(b[0]).toBe(0x62);
  });
});
