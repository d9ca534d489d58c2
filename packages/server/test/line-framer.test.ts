import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLineFramer, type FramerEvent } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const show = (events: readonly FramerEvent[]) => events.map((e) => (e.type === 'line' ? dec(e.line) : '<too long>'));

describe('line framer', () => {
  it('cuts lines at LF and keeps the partial rest', () => {
    const f = createLineFramer({ maxLineLength: 100 });
    expect(show(f.push(enc('GET a b\nPUT a')))).toEqual(['GET a b']);
    expect(f.pending()).toBe(5);
    expect(show(f.push(enc(' b c\n')))).toEqual(['PUT a b c']);
    expect(f.pending()).toBe(0);
  });

  it('keeps a CR before LF in the line and does not end a line at a CR alone', () => {
    const f = createLineFramer({ maxLineLength: 100 });
    expect(show(f.push(enc('A\r\nB\rC\n')))).toEqual(['A\r', 'B\rC']);
    expect(show(f.push(enc('D\r')))).toEqual([]);
    expect(f.pending()).toBe(2);
  });

  it('gives empty lines for consecutive LFs', () => {
    const f = createLineFramer({ maxLineLength: 100 });
    expect(show(f.push(enc('\n\n')))).toEqual(['', '']);
  });

  it('accepts a line of exactly the limit and rejects one byte more, once, then recovers', () => {
    const f = createLineFramer({ maxLineLength: 5 });
    expect(show(f.push(enc('12345\n')))).toEqual(['12345']);
    expect(show(f.push(enc('123456\nok\n')))).toEqual(['<too long>', 'ok']);
  });

  it('reports a too-long line as soon as the limit is passed and drops it up to its LF', () => {
    const f = createLineFramer({ maxLineLength: 4 });
    expect(show(f.push(enc('abc')))).toEqual([]);
    expect(show(f.push(enc('de')))).toEqual(['<too long>']);
    expect(f.pending()).toBe(0);
    expect(show(f.push(enc('more and more')))).toEqual([]);
    expect(f.pending()).toBe(0);
    expect(show(f.push(enc('x\nGET\n')))).toEqual(['GET']);
  });

  it('drops a partial line on reset (client closed before LF)', () => {
    const f = createLineFramer({ maxLineLength: 100 });
    f.push(enc('PUT a b c'));
    f.reset();
    expect(show(f.push(enc('\n')))).toEqual(['']);
  });

  it('copies lines, so changing the chunk afterwards changes nothing', () => {
    const f = createLineFramer({ maxLineLength: 100 });
    const chunk = enc('abc\n');
    const [e] = f.push(chunk);
    chunk[0] = 0x7a;
    expect(e?.type === 'line' && dec(e.line)).toBe('abc');
  });

  it('rejects a bad limit with a clear error', () => {
    expect(() => createLineFramer({ maxLineLength: 0 })).toThrow(/maxLineLength must be a positive integer/);
    expect(() => createLineFramer({ maxLineLength: 1.5 })).toThrow(/maxLineLength/);
  });

  it('gives the same events however the bytes are split into chunks (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }).map((b) => b.map((x) => (x % 7 === 0 ? 0x0a : x))),
        fc.array(fc.nat(300), { maxLength: 10 }),
        fc.integer({ min: 1, max: 40 }),
        (bytes, cuts, max) => {
          const whole = show(createLineFramer({ maxLineLength: max }).push(bytes));
          const f = createLineFramer({ maxLineLength: max });
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const pieces: FramerEvent[] = [];
          let at = 0;
          for (const p of [...points, bytes.length]) {
            pieces.push(...f.push(bytes.subarray(at, p)));
            at = p;
          }
          expect(show(pieces)).toEqual(whole);
        },
      ),
    );
  });

  it('matches a reference model: lines up to the limit come out whole, longer ones as too-long (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 30 }).map((b) => b.filter((x) => x !== 0x0a))), fc.integer({ min: 1, max: 30 }), (lines, max) => {
        const input = Buffer.concat(lines.flatMap((l) => [l, Uint8Array.of(0x0a)]));
        const expected = lines.map((l) => (l.length > max ? '<too long>' : dec(l)));
        expect(show(createLineFramer({ maxLineLength: max }).push(input))).toEqual(expected);
      }),
    );
  });
});
