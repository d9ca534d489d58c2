/** `ring.ownerAt(position)`: who owns each point of the circle (what the HTTP dashboard draws). */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '@ringkv/core';
import { createRing } from '../src/ring.js';

const positions = (n: number) => Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) / n) * 0x100000000));

describe('ring.ownerAt', () => {
  it('splits the circle about evenly between members of equal weight', () => {
    const ring = createRing({ members: ['a@h', 'b@h', 'c@h'] });
    const counts = new Map<string, number>();
    for (const p of positions(3600)) counts.set(ring.ownerAt(p), (counts.get(ring.ownerAt(p)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['a@h', 'b@h', 'c@h']);
    for (const n of counts.values()) expect(n / 3600).toBeGreaterThan(0.28);
  });

  it('moves points only to a member that joins', () => {
    const before = createRing({ members: ['a@h', 'b@h', 'c@h'], vnodes: 64 });
    const after = createRing({ members: ['a@h', 'b@h', 'c@h', 'd@h'], vnodes: 64 });
    let moved = 0;
    for (const p of positions(2000)) {
      const was = before.ownerAt(p);
      const is = after.ownerAt(p);
      if (was !== is) {
        expect(is).toBe('d@h');
        moved++;
      }
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('covers the ends of the circle and refuses positions off it', () => {
    const ring = createRing({ members: ['a@h', 'b@h'] });
    expect(['a@h', 'b@h']).toContain(ring.ownerAt(0));
    expect(['a@h', 'b@h']).toContain(ring.ownerAt(0xffffffff));
    for (const bad of [-1, 0x100000000, 1.5, Number.NaN]) expect(() => ring.ownerAt(bad)).toThrow(ArgumentError);
  });
});
