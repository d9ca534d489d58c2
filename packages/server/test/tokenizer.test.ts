import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEPARATOR_CODE_POINTS, tokenize } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const toks = (line: Uint8Array | string) => tokenize(typeof line === 'string' ? enc(line) : line).map((t) => Buffer.from(t).toString('hex'));
const hex = (...parts: (string | number[])[]) => parts.map((p) => Buffer.from(typeof p === 'string' ? enc(p) : p).toString('hex'));

describe('tokenizer', () => {
  it('splits on every separator of PROTOCOL.md', () => {
    expect(SEPARATOR_CODE_POINTS).toHaveLength(22);
    for (const cp of SEPARATOR_CODE_POINTS) {
      const sep = String.fromCodePoint(cp);
      expect(toks(`a${sep}b`), `U+${cp.toString(16)}`).toEqual(hex('a', 'b'));
      expect(toks(`${sep}a${sep}${sep}b${sep}`), `U+${cp.toString(16)} runs`).toEqual(hex('a', 'b'));
    }
  });

  it('does not split on U+00A0, U+2007, U+202F nor on their neighbours', () => {
    for (const cp of [0xa0, 0x2007, 0x202f, 0x84, 0x86, 0x1fff, 0x200b, 0x2027, 0x202a, 0x205e, 0x2060, 0x3001, 0x1681, 0x180e, 0xfeff]) {
      const line = `a${String.fromCodePoint(cp)}b`;
      expect(toks(line), `U+${cp.toString(16)}`).toEqual([Buffer.from(enc(line)).toString('hex')]);
    }
  });

  it('splits exactly like the list of separators for every code point below U+3100 (against a model)', () => {
    const seps = new Set(SEPARATOR_CODE_POINTS);
    for (let cp = 0; cp < 0x3100; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const n = toks(`x${String.fromCodePoint(cp)}y`).length;
      if (n !== (seps.has(cp) ? 2 : 1)) throw new Error(`U+${cp.toString(16)} split into ${n} tokens`);
    }
  });

  it('keeps NUL and invalid UTF-8 inside tokens', () => {
    expect(toks(Uint8Array.from([0x61, 0x00, 0x62, 0x20, 0xff, 0xfe, 0x20, 0xc2, 0xe2, 0x80]))).toEqual(
      hex([0x61, 0x00, 0x62], [0xff, 0xfe], [0xc2, 0xe2, 0x80]),
    );
  });

  it('finds a separator right after an invalid byte', () => {
    // 0xE2 that does not start a valid character, then U+2000 (E2 80 80).
    expect(toks(Uint8Array.from([0x61, 0xe2, 0xe2, 0x80, 0x80, 0x62]))).toEqual(hex([0x61, 0xe2], [0x62]));
    expect(toks(Uint8Array.from([0xc2, 0xc2, 0x85, 0x62]))).toEqual(hex([0xc2], [0x62]));
  });

  it('gives no tokens for empty and blank lines', () => {
    expect(toks('')).toEqual([]);
    expect(toks(' \t\r\u3000')).toEqual([]);
  });

  it('joining tokens with random separator runs parses back to the same tokens (property)', () => {
    const seps = SEPARATOR_CODE_POINTS.map((cp) => enc(String.fromCodePoint(cp)));
    // Tokens: raw bytes that cannot start a separator (NUL, 0xff, lone continuation bytes), or
    // any Unicode text without separator code points (U+00A0, U+2007, U+202F included).
    const sepSet = new Set(SEPARATOR_CODE_POINTS);
    const tokenByte = fc.integer({ min: 0, max: 255 }).filter((b) => !(b === 0x20 || (b >= 0x09 && b <= 0x0d) || (b >= 0xc2 && b <= 0xe3)));
    const rawToken = fc.array(tokenByte, { minLength: 1, maxLength: 8 }).map((a) => Uint8Array.from(a));
    const textToken = fc
      .array(fc.oneof(fc.constantFrom(0xa0, 0x2007, 0x202f, 0x1680 + 1), fc.integer({ min: 0, max: 0x10ffff })), { minLength: 1, maxLength: 6 })
      .map((cps) => cps.filter((cp) => !sepSet.has(cp) && !(cp >= 0xd800 && cp <= 0xdfff)))
      .filter((cps) => cps.length > 0)
      .map((cps) => enc(String.fromCodePoint(...cps)));
    const token = fc.oneof(rawToken, textToken);
    const run = fc.array(fc.constantFrom(...seps), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(token, { maxLength: 6 }), fc.array(run, { minLength: 7, maxLength: 7 }), fc.boolean(), fc.boolean(), (tokens, runs, lead, trail) => {
        const parts: Uint8Array[] = [];
        if (lead) parts.push(...runs[6]!);
        tokens.forEach((t, i) => {
          if (i > 0) parts.push(...runs[i]!);
          parts.push(t);
        });
        if (trail) parts.push(...runs[0]!);
        const line = Buffer.concat(parts);
        expect(toks(line)).toEqual(tokens.map((t) => Buffer.from(t).toString('hex')));
      }),
    );
  });

  it('never yields empty tokens and never loses a non-separator byte (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const tokens = tokenize(bytes);
        for (const t of tokens) expect(t.length).toBeGreaterThan(0);
        // Tokens are in order and disjoint views of the line.
        let at = 0;
        for (const t of tokens) {
          expect(t.byteOffset - bytes.byteOffset).toBeGreaterThanOrEqual(at);
          at = t.byteOffset - bytes.byteOffset + t.length;
        }
      }),
    );
  });
});
