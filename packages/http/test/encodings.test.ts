/** The pure encodings of the HTTP layer: path bytes, the Content-Type envelope, vclock tokens. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadEncodingError, checkContentType, decodePathSegment, decodeVclock, encodePathSegment, encodeVclock, unwrapValue, wrapValue } from '../src/index.js';

const enc = new TextEncoder();

describe('path segments', () => {
  it('decode what they encode, for any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const encoded = encodePathSegment(bytes);
      expect(encoded).toMatch(/^[A-Za-z0-9._~%-]*$/);
      expect(decodePathSegment(encoded)).toEqual(bytes);
    }));
  });

  it('keep %2F inside the segment, take lower-case escapes and raw UTF-8', () => {
    expect(decodePathSegment('a%2fb')).toEqual(enc.encode('a/b'));
    expect(decodePathSegment('ção')).toEqual(enc.encode('ção'));
    expect(decodePathSegment('%ff%00')).toEqual(new Uint8Array([0xff, 0]));
  });

  it('refuse broken escapes, naming where', () => {
    for (const bad of ['%', 'a%2', '%zz', 'ok%g0']) expect(() => decodePathSegment(bad, 'key')).toThrow(BadEncodingError);
    expect(() => decodePathSegment('ab%4', 'key')).toThrow(/in the key at byte 2/);
  });
});

describe('the Content-Type envelope', () => {
  it('round-trips any value under any accepted type', () => {
    const type = fc.constantFrom('text/plain', 'application/json', 'image/png', 'text/plain; charset=utf-8', 'application/octet-stream');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), type, (value, contentType) => {
      const out = unwrapValue(wrapValue(value, contentType));
      expect(out.value).toEqual(value);
      expect(out.contentType).toBe(contentType);
    }));
  });

  it('stores octet-stream raw, and nothing else raw', () => {
    const v = enc.encode('3');
    expect(wrapValue(v, 'application/octet-stream')).toBe(v);
    expect(new TextDecoder().decode(wrapValue(v, 'text/plain'))).toBe('ringkv-http/1 text/plain\t3');
  });

  it('never takes a value the text protocol can write (no whitespace) for an envelope', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((b) => !b.some((x) => x === 0x20 || (x >= 0x09 && x <= 0x0d))), (token) => {
      expect(unwrapValue(token)).toEqual({ contentType: 'application/octet-stream', value: token });
    }));
    expect(unwrapValue(enc.encode('ringkv-http/1\ttext/plain\tx')).contentType).toBe('application/octet-stream');
  });

  it('checks Content-Type headers', () => {
    expect(checkContentType(undefined)).toBe('application/octet-stream');
    expect(checkContentType('  text/html; charset=utf-8 ')).toBe('text/html; charset=utf-8');
    for (const bad of ['text', 'text/plain\tx', 'ção/x', 'x'.repeat(300) + '/y']) expect(() => checkContentType(bad)).toThrow(/Content-Type/);
  });
});

describe('vclock tokens', () => {
  it('round-trip version vectors', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.nat()), (vv) => {
      expect(decodeVclock(encodeVclock(vv))).toEqual(vv);
    }));
  });

  it('refuse what this server did not issue', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const bad of ['%%%', 'abc', b64('[1,2]'), b64('{"a":-1}'), b64('{"a":1.5}'), b64('{"a":"1"}'), b64('null'), b64('not json')]) {
      expect(() => decodeVclock(bad), bad).toThrow(/X-Riak-Vclock is not a vclock this server issued/);
    }
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`a${i}`, 1]));
    expect(() => decodeVclock(encodeVclock(many))).toThrow(/more than 256 actors/);
  });
});
