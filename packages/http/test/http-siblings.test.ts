/**
 * Siblings and X-Riak-Vclock on a ring cluster: concurrent values (planted on the replicas as a
 * partition would leave them) come back as 300 Multiple Choices, as multipart/mixed when asked,
 * one by one with ?vtag=; a write carrying the vclock it read supersedes them; and the vclock
 * reaches the write's version even when the replicas never showed it to the coordinator.
 */
import type { VersionStamp } from '@ringkv/core';
import { MERGE_MESSAGE } from '@ringkv/ring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeVclock, encodeVclock, wrapValue } from '../src/index.js';
import { RING_NODES, startHttpCluster, type HttpCluster } from './cluster-fixture.js';

const enc = new TextEncoder();

describe('siblings and vclocks over HTTP (ring)', () => {
  let c: HttpCluster;
  const req = (p: string, init: RequestInit = {}) => fetch(`${c.base}${p}`, init);
  /** Puts a sibling straight into one replica's storage, as if written by an actor nobody saw. */
  const plant = (node: string, bucket: string, key: string, value: Uint8Array, version: VersionStamp) =>
    c.web.send(node, MERGE_MESSAGE, { objects: [{ bucket, key: enc.encode(key), siblings: [{ value, version }] }], hintFor: null });

  beforeAll(async () => {
    c = await startHttpCluster('ring');
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('shows concurrent values as 300, multipart/mixed, or one by vtag; a write with the vclock resolves them', async () => {
    const put = await req('/buckets/cart/keys/item', { method: 'PUT', body: enc.encode('base'), headers: { 'content-type': 'text/plain' } });
    expect(put.status).toBe(204);
    const first = await req('/buckets/cart/keys/item');
    expect(first.status).toBe(200);
    const vclock = first.headers.get('x-riak-vclock');
    expect(vclock).toBeTruthy();
    expect(Object.keys(decodeVclock(vclock!))).toHaveLength(1);

    // Two writers that never saw each other nor the base write: three concurrent values.
    await plant(RING_NODES[1]!, 'cart', 'item', wrapValue(enc.encode('left'), 'text/x-left'), { vv: { 'x#1': 1 }, ts: 1_000, actor: 'x#1' });
    await plant(RING_NODES[2]!, 'cart', 'item', enc.encode('right'), { vv: { 'y#1': 1 }, ts: 2_000, actor: 'y#1' });

    const listed = await req('/buckets/cart/keys/item?r=3');
    expect(listed.status).toBe(300);
    const lines = (await listed.text()).trimEnd().split('\n');
    expect(lines[0]).toBe('Siblings:');
    const vtags = lines.slice(1);
    expect(vtags).toHaveLength(3);
    const sibVclock = listed.headers.get('x-riak-vclock')!;
    expect(Object.keys(decodeVclock(sibVclock)).sort()).toEqual([...Object.keys(decodeVclock(vclock!)), 'x#1', 'y#1'].sort());

    const multi = await req('/buckets/cart/keys/item?r=3', { headers: { accept: 'multipart/mixed, */*;q=0.5' } });
    expect(multi.status).toBe(300);
    const type = multi.headers.get('content-type')!;
    const boundary = /boundary=([^;]+)/.exec(type)?.[1];
    expect(type).toMatch(/^multipart\/mixed; boundary=/);
    const body = await multi.text();
    const parts = body.split(`--${boundary}`).slice(1, -1).map((p) => {
      const [head, ...rest] = p.replace(/^\r\n/, '').split('\r\n\r\n');
      return { head: head!, body: rest.join('\r\n\r\n').replace(/\r\n$/, '') };
    });
    expect(parts.map((p) => p.body).sort()).toEqual(['base', 'left', 'right']);
    const left = parts.find((p) => p.body === 'left')!;
    expect(left.head).toMatch(/Content-Type: text\/x-left/);
    expect(parts.find((p) => p.body === 'right')!.head).toMatch(/Content-Type: application\/octet-stream/);
    expect(parts.find((p) => p.body === 'base')!.head).toMatch(/Content-Type: text\/plain/);
    expect(body.endsWith(`--${boundary}--\r\n`)).toBe(true);

    // ?vtag= picks each sibling, with its own content type.
    const picked = await Promise.all(vtags.map(async (v) => {
      const r = await req(`/buckets/cart/keys/item?r=3&vtag=${v}`);
      return `${r.status} ${r.headers.get('content-type')} ${await r.text()}`;
    }));
    expect(picked.sort()).toEqual(['200 application/octet-stream right', '200 text/plain base', '200 text/x-left left']);
    expect((await req('/buckets/cart/keys/item?vtag=nope')).status).toBe(404);

    // A write carrying the vclock of what it read supersedes all three.
    const resolved = await req('/buckets/cart/keys/item?returnbody=true', {
      method: 'PUT',
      body: enc.encode('merged'),
      headers: { 'content-type': 'text/plain', 'x-riak-vclock': sibVclock },
    });
    expect(resolved.status).toBe(200);
    expect(await resolved.text()).toBe('merged');
    const after = await req('/buckets/cart/keys/item?r=3');
    expect(after.status).toBe(200);
    expect(await after.text()).toBe('merged');
    const afterClock = decodeVclock(after.headers.get('x-riak-vclock')!);
    for (const [actor, n] of Object.entries(decodeVclock(sibVclock))) expect(afterClock[actor]).toBeGreaterThanOrEqual(n);
  });

  it('joins the client vclock into the write even when no replica showed it (and without it, a sibling stays)', async () => {
    const seen = { 'z#1': 5 };
    const planted: VersionStamp = { vv: seen, ts: 1_000, actor: 'z#1' };
    for (const key of ['with', 'without']) {
      await req(`/buckets/ctx/keys/${key}`, { method: 'PUT', body: enc.encode('first'), headers: { 'content-type': 'text/plain' } });
    }
    // The writer says it saw z#1's version 5, which no replica holds yet.
    const withClock = await req('/buckets/ctx/keys/with', { method: 'PUT', body: enc.encode('second'), headers: { 'content-type': 'text/plain', 'x-riak-vclock': encodeVclock(seen) } });
    expect(withClock.status).toBe(204);
    await req('/buckets/ctx/keys/without', { method: 'PUT', body: enc.encode('second'), headers: { 'content-type': 'text/plain' } });
    // z#1's version arrives late, on every replica.
    for (const node of RING_NODES) {
      for (const key of ['with', 'without']) await plant(node, 'ctx', key, enc.encode('late'), planted);
    }
    const a = await req('/buckets/ctx/keys/with?r=3');
    expect(a.status).toBe(200);
    expect(await a.text()).toBe('second');
    const b = await req('/buckets/ctx/keys/without?r=3');
    expect(b.status).toBe(300);
  });
});
