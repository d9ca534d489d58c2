import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLine, type ParsedLine } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const txt = (b: Uint8Array) => Buffer.from(b).toString('utf8');
function plain(p: ParsedLine): unknown {
  if ('error' in p) return p;
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v instanceof Uint8Array ? txt(v) : v]));
}
const parse = (s: string) => plain(parseLine(enc(s)));
const UNKNOWN = { error: 'unknown' };

describe('parseLine', () => {
  it('parses the guide\'s examples', () => {
    expect(parse('CREATE shopping')).toEqual({ op: 'CREATE', bucket: 'shopping' });
    expect(parse('CREATE  shopping  ')).toEqual(parse('CREATE shopping'));
    expect(parse('PUT shopping milk 1')).toEqual({ op: 'PUT', bucket: 'shopping', key: 'milk', value: '1' });
    expect(parse('GET shopping milk')).toEqual({ op: 'GET', bucket: 'shopping', key: 'milk' });
    expect(parse('DELETE shopping eggs')).toEqual({ op: 'DELETE', bucket: 'shopping', key: 'eggs' });
    expect(parse('SUBSCRIBE shopping')).toEqual({ op: 'SUBSCRIBE', bucket: 'shopping' });
    expect(parse('UNKNOWN shopping eggs')).toEqual(UNKNOWN);
    expect(parse('GET shopping')).toEqual(UNKNOWN);
  });

  it('needs the exact number of tokens for each command', () => {
    for (const line of ['CREATE', 'CREATE a b', 'GET a', 'GET a b c', 'PUT a b', 'PUT a b c d', 'DELETE a', 'DELETE a b c', 'SUBSCRIBE', 'SUBSCRIBE a b']) {
      expect(parse(line), line).toEqual(UNKNOWN);
    }
  });

  it('is case-sensitive', () => {
    for (const line of ['create a', 'Create a', 'get a b', 'put a b c', 'delete a b', 'GEt a b', 'PUt a b c', 'subscribe a']) {
      expect(parse(line), line).toEqual(UNKNOWN);
    }
  });

  it('treats empty and blank lines as unknown', () => {
    for (const line of ['', ' ', '\r', '\t \u3000\r']) expect(parse(line)).toEqual(UNKNOWN);
  });

  it('separates with tabs, CR and Unicode spaces, not with U+00A0', () => {
    expect(parse('PUT\tb\u2003k\u3000v\r')).toEqual({ op: 'PUT', bucket: 'b', key: 'k', value: 'v' });
    expect(parse('GET\u00a0b k')).toEqual(UNKNOWN);
    expect(parse('GET b\u00a0k')).toEqual(UNKNOWN);
    expect(parse('PUT b k\u00a0v x')).toEqual({ op: 'PUT', bucket: 'b', key: 'k\u00a0v', value: 'x' });
  });

  it('does not take a command word glued to other bytes', () => {
    expect(parse('CREATEx a')).toEqual(UNKNOWN);
    expect(parse('xGET a b')).toEqual(UNKNOWN);
    expect(parse('GET\u00a0 a b')).toEqual(UNKNOWN);
  });

  it('keeps raw bytes of bucket, key and value', () => {
    const line = Uint8Array.from([...enc('PUT '), 0x00, 0xff, 0x20, 0xc3, 0x28, 0x20, 0xfe, 0x00, 0x80]);
    const p = parseLine(line);
    expect('op' in p && p.op).toBe('PUT');
    if ('op' in p && p.op === 'PUT') {
      expect([...p.bucket]).toEqual([0x00, 0xff]);
      expect([...p.key]).toEqual([0xc3, 0x28]);
      expect([...p.value]).toEqual([0xfe, 0x00, 0x80]);
    }
  });

  it('never throws, whatever the bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const p = parseLine(bytes);
        expect('error' in p || ['CREATE', 'GET', 'PUT', 'DELETE', 'SUBSCRIBE'].includes(p.op)).toBe(true);
      }),
    );
  });

  it('parses any PUT line built from separator-free tokens back to its parts (property)', () => {
    const word = fc.stringMatching(/^[!-~]{1,10}$/);
    fc.assert(
      fc.property(word, word, word, fc.constantFrom(' ', '\t', '  ', ' \u2000', '\u3000'), (b, k, v, sep) => {
        expect(parse(`${sep}PUT${sep}${b}${sep}${k}${sep}${v}${sep}\r`)).toEqual({ op: 'PUT', bucket: b, key: k, value: v });
      }),
    );
  });
});
