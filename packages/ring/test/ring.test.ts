import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ArgumentError, EmptyBucketError } from '@ringkv/core';
import { createRing } from '../src/ring.js';

const nodeName = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}@h[0-9]?$/);
const memberSet = (min: number, max: number) => fc.uniqueArray(nodeName, { minLength: min, maxLength: max });
const bucket = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 24 }), fc.string({ minLength: 1, maxLength: 24 }));
// Fewer virtual nodes keep the property runs fast; the properties do not depend on the count.
const VNODES = 16;

describe('createRing', () => {
  it('gives N distinct members, all primaries, for any bucket', () => {
    fc.assert(
      fc.property(memberSet(1, 12), bucket, fc.integer({ min: 1, max: 12 }), (members, b, n0) => {
        const ring = createRing({ members, vnodes: VNODES });
        const n = Math.min(n0, members.length);
        const list = ring.preferenceList(b, n);
        expect(list).toHaveLength(n);
        expect(new Set(list.map((r) => r.node)).size).toBe(n);
        for (const r of list) {
          expect(members).toContain(r.node);
          expect(r.role).toBe('primary');
        }
        expect(ring.owner(b)).toBe(list[0]!.node);
      }),
    );
  });

  it('is deterministic across instances and member order', () => {
    fc.assert(
      fc.property(memberSet(1, 10), fc.array(bucket, { minLength: 1, maxLength: 20 }), (members, buckets) => {
        const a = createRing({ members, vnodes: VNODES });
        const b = createRing({ members: [...members].reverse(), vnodes: VNODES });
        const n = Math.min(3, members.length);
        for (const k of buckets) expect(b.preferenceList(k, n)).toEqual(a.preferenceList(k, n));
      }),
    );
  });

  it('adding a member only changes preference lists that now include it', () => {
    fc.assert(
      fc.property(memberSet(4, 11), fc.array(bucket, { minLength: 1, maxLength: 40 }), (all, buckets) => {
        const [joiner, ...members] = all as [string, ...string[]];
        const before = createRing({ members, vnodes: VNODES });
        const after = createRing({ members: [...members, joiner], vnodes: VNODES });
        for (const k of buckets) {
          const was = before.preferenceList(k, 3).map((r) => r.node);
          const now = after.preferenceList(k, 3).map((r) => r.node);
          if (!now.includes(joiner)) expect(now).toEqual(was);
          else expect(now.filter((x) => x !== joiner)).toEqual(was.slice(0, 2));
        }
      }),
    );
  });

  it('removing a member leaves lists that did not include it unchanged', () => {
    fc.assert(
      fc.property(memberSet(4, 11), fc.array(bucket, { minLength: 1, maxLength: 40 }), (members, buckets) => {
        const leaver = members[0]!;
        const before = createRing({ members, vnodes: VNODES });
        const after = createRing({ members: members.slice(1), vnodes: VNODES });
        for (const k of buckets) {
          const was = before.preferenceList(k, 3).map((r) => r.node);
          if (!was.includes(leaver)) expect(after.preferenceList(k, 3).map((r) => r.node)).toEqual(was);
        }
      }),
    );
  });

  it('replaces down primaries with the next live members, tagged fallback with hintFor', () => {
    fc.assert(
      fc.property(memberSet(3, 10), bucket, fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), (members, b, upFlags) => {
        const ring = createRing({ members, vnodes: VNODES });
        const n = Math.min(3, members.length);
        const up = new Set(members.filter((_, i) => upFlags[i]));
        const isUp = (m: string) => up.has(m);
        const primaries = ring.preferenceList(b, n).map((r) => r.node);
        const list = ring.preferenceList(b, n, isUp);
        const livePrimaries = primaries.filter(isUp);
        const downPrimaries = primaries.filter((p) => !isUp(p));
        // Live primaries first, in ring order.
        expect(list.slice(0, livePrimaries.length)).toEqual(livePrimaries.map((node) => ({ node, role: 'primary' })));
        const fallbacks = list.slice(livePrimaries.length);
        // As many fallbacks as there are down primaries and live non-primaries to stand in.
        const spare = members.filter((m) => isUp(m) && !primaries.includes(m)).length;
        expect(fallbacks).toHaveLength(Math.min(downPrimaries.length, spare));
        fallbacks.forEach((f, i) => {
          expect(f.role).toBe('fallback');
          expect(f.hintFor).toBe(downPrimaries[i]);
          expect(isUp(f.node)).toBe(true);
          expect(primaries).not.toContain(f.node);
        });
        expect(new Set(list.map((r) => r.node)).size).toBe(list.length);
        // The fallbacks are the first live non-primaries clockwise.
        const order = ring.preferenceList(b, members.length).map((r) => r.node);
        const expected = order.filter((m) => !primaries.includes(m) && isUp(m)).slice(0, fallbacks.length);
        expect(fallbacks.map((f) => f.node)).toEqual(expected);
      }),
    );
  });

  it('keeps distinct binary buckets apart (no UTF-8 replacement collisions)', () => {
    const ring = createRing({ members: Array.from({ length: 50 }, (_, i) => `n${i}@h`) });
    // Invalid UTF-8 bytes that would all decode to U+FFFD; with lossless hashing their owners differ.
    const owners = new Set(Array.from({ length: 128 }, (_, i) => ring.owner(new Uint8Array([0x80 + i]))));
    expect(owners.size).toBeGreaterThan(10);
    // A string and its UTF-8 bytes are the same bucket.
    expect(ring.owner('ção')).toBe(ring.owner(new TextEncoder().encode('ção')));
  });

  it('gives members weight in proportion to their virtual nodes', () => {
    const ring = createRing({ members: ['a@h', 'b@h'], vnodes: 100, weights: { 'b@h': 3 } });
    expect(ring.vnodesOf('a@h')).toBe(100);
    expect(ring.vnodesOf('b@h')).toBe(300);
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const o = ring.owner(`k${i}`);
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    const share = (counts.get('b@h') ?? 0) / 20_000;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
  });

  it('rejects bad input with a clear error', () => {
    expect(() => createRing({ members: [] })).toThrow(ArgumentError);
    expect(() => createRing({ members: ['a@h', 'a@h'] })).toThrow(/listed twice/);
    expect(() => createRing({ members: ['a@h'], vnodes: 0 })).toThrow(/vnodes/);
    expect(() => createRing({ members: ['a@h'], weights: { 'b@h': 1 } })).toThrow(/not a member/);
    expect(() => createRing({ members: ['a@h'], weights: { 'a@h': -1 } })).toThrow(/positive/);
    const ring = createRing({ members: ['a@h', 'b@h'] });
    expect(() => ring.preferenceList('x', 3)).toThrow(/larger than the number of ring members/);
    expect(() => ring.preferenceList('x', 0)).toThrow(/positive integer/);
    expect(() => ring.owner('')).toThrow(EmptyBucketError);
    expect(() => ring.owner(42 as unknown as string)).toThrow(ArgumentError);
  });
});
