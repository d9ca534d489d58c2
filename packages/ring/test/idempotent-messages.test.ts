import { describe, expect, it } from 'vitest';
import { ROUTE_MESSAGE, TRANSPORT_PROBE_MESSAGE } from '@ringkv/core';
import {
  AAE_DONE_MESSAGE,
  AAE_REAP_MESSAGE,
  APPLY_MESSAGE,
  BATCH_MESSAGE,
  HANDOFF_MESSAGE,
  isIdempotentRingMessage,
  MERGE_MESSAGE,
  PING_MESSAGE,
  REPLICATE_MESSAGE,
} from '../src/index.js';

const msg = (type: string, body: unknown = {}) => ({ type, body });

describe('isIdempotentRingMessage', () => {
  it('accepts merges of whole objects and reads', () => {
    for (const type of [REPLICATE_MESSAGE, MERGE_MESSAGE, HANDOFF_MESSAGE, PING_MESSAGE, TRANSPORT_PROBE_MESSAGE]) {
      expect(isIdempotentRingMessage(msg(type)), type).toBe(true);
    }
    expect(isIdempotentRingMessage(msg(APPLY_MESSAGE, { meta: { mode: 'read' } }))).toBe(true);
  });

  it('refuses routing calls, writes on a replica, reaping and anything unknown', () => {
    expect(isIdempotentRingMessage(msg(ROUTE_MESSAGE, { bucket: 'b', mod: 'KV.Bucket', fun: 'put', args: [] }))).toBe(false);
    expect(isIdempotentRingMessage(msg(APPLY_MESSAGE, { meta: { mode: 'write' } }))).toBe(false);
    expect(isIdempotentRingMessage(msg(APPLY_MESSAGE, null))).toBe(false);
    expect(isIdempotentRingMessage(msg(AAE_REAP_MESSAGE))).toBe(false);
    expect(isIdempotentRingMessage(msg(AAE_DONE_MESSAGE))).toBe(false);
    expect(isIdempotentRingMessage(msg('ring.something-new'))).toBe(false);
  });

  it('accepts a batch only when every message in it is idempotent, and never a batch in a batch', () => {
    const merge = [MERGE_MESSAGE, { objects: [] }];
    const write = [APPLY_MESSAGE, { meta: { mode: 'write' } }];
    expect(isIdempotentRingMessage(msg(BATCH_MESSAGE, { items: [merge, [REPLICATE_MESSAGE, {}]] }))).toBe(true);
    expect(isIdempotentRingMessage(msg(BATCH_MESSAGE, { items: [merge, write] }))).toBe(false);
    expect(isIdempotentRingMessage(msg(BATCH_MESSAGE, { items: [[BATCH_MESSAGE, { items: [merge] }]] }))).toBe(false);
    expect(isIdempotentRingMessage(msg(BATCH_MESSAGE, { items: 'nope' }))).toBe(false);
    expect(isIdempotentRingMessage(msg(BATCH_MESSAGE, null))).toBe(false);
  });
});
