import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  BadRequestError,
  casDoc,
  createMemoryClusterStateStore,
  decodeState,
  encodeDoc,
  initialState,
  membersAfter,
  nextPhase,
  readState,
  stageChange,
  STATE_KEY,
  waitingFor,
  type ClusterState,
  type RingLayout,
} from '../src/index.js';

const ring: RingLayout = { strategy: 'ring', members: ['a@h', 'b@h', 'c@h'], n: 3, r: 2, w: 2, vnodes: 64 };

describe('cluster model', () => {
  it('stages join, leave and replace, refusing what contradicts the layout or what is staged', () => {
    let s = initialState(ring);
    s = stageChange(s, { action: 'join', node: 'd@h' });
    expect(() => stageChange(s, { action: 'join', node: 'a@h' })).toThrow(ArgumentError);
    expect(() => stageChange(s, { action: 'leave', node: 'x@h' })).toThrow(/not a member/);
    expect(() => stageChange(s, { action: 'leave', node: 'd@h' })).toThrow(/already has a staged change/);
    expect(() => stageChange(s, { action: 'replace', node: 'b@h', by: 'c@h' })).toThrow(/already a member/);
    s = stageChange(s, { action: 'replace', node: 'b@h', by: 'e@h' });
    expect(membersAfter(ring.members, s.staged)).toEqual(['a@h', 'c@h', 'd@h', 'e@h']);
    expect(membersAfter(ring.members, [{ action: 'leave', node: 'c@h' }])).toEqual(['a@h', 'b@h']);
  });

  it('phases run write-both, stream, read-new, cleanup, then end', () => {
    expect([nextPhase('write-both'), nextPhase('stream'), nextPhase('read-new'), nextPhase('cleanup')]).toEqual([
      'stream',
      'read-new',
      'cleanup',
      undefined,
    ]);
  });

  it('a phase waits only for live nodes that have not installed its epoch', () => {
    const now = 100_000;
    const seen = [
      { node: 'a@h', epoch: 5, at: now - 100, storage: true },
      { node: 'b@h', epoch: 4, at: now - 100, storage: true },
      { node: 'c@h', epoch: 3, at: now - 60_000, storage: true }, // silent for a minute: down
    ];
    expect(waitingFor(seen, 5, now, 5000)).toEqual(['b@h']);
  });

  it('decoding refuses corrupt or foreign documents with a message naming the field', () => {
    const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
    expect(() => decodeState(enc('{not json'))).toThrow(BadRequestError);
    expect(() => decodeState(enc({ ...initialState(ring), format: 2 }))).toThrow(/format/);
    expect(() => decodeState(enc({ ...initialState(ring), epoch: -1 }))).toThrow(/epoch/);
    expect(() => decodeState(enc({ ...initialState(ring), layout: { ...ring, n: 0 } }))).toThrow(/layout\.n/);
    expect(() => decodeState(enc({ ...initialState(ring), transition: { from: ring, to: ring, phase: 'teleport' } }))).toThrow(/phase/);
    expect(decodeState(enc(initialState(ring))).layout).toEqual(ring);
  });

  it('casDoc retries a read-modify-write until it wins; concurrent writers all land', async () => {
    const store = createMemoryClusterStateStore();
    await store.create(STATE_KEY, encodeDoc(initialState(ring)));
    await Promise.all(
      Array.from({ length: 10 }, () => casDoc<ClusterState>(store, STATE_KEY, decodeState, (s) => ({ ...s!, epoch: s!.epoch + 1 }))),
    );
    expect((await readState(store))!.doc.epoch).toBe(11);
    const unchanged = await casDoc<ClusterState>(store, STATE_KEY, decodeState, () => undefined);
    expect(unchanged.changed).toBe(false);
  });
});
