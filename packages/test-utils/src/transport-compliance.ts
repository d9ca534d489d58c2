/**
 * The Transport compliance suite: the promises written at the top of core's `transport.ts`,
 * run unchanged against every transport (in the style of libp2p's
 * interface-compliance-tests). A transport's spec file is only its setup and teardown.
 *
 * @example
 * transportCompliance({
 *   name: 'in-process',
 *   async setup() { const net = createInProcessNetwork(); return { connect: async () => net.transport(), teardown: async () => {} }; },
 * });
 */
import {
  ArgumentError,
  NoEntryError,
  NodeUnreachableError,
  TimeoutError,
  TransportError,
  type Listener,
  type MessageHandler,
  type Transport,
} from '@ringkv/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

export interface TransportHarness {
  /** A new transport on the same network (each is one connection, as one process would have). */
  connect(): Promise<Transport>;
  teardown(): Promise<void>;
}

export interface TransportComplianceOptions {
  name: string;
  setup(): Promise<TransportHarness>;
}

/** Values a payload may hold, each expected to arrive equal (`-0` arrives as `0`). */
const DOMAIN: Array<[label: string, value: unknown, expected?: unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['booleans', [true, false]],
  ['integers and floats', [0, 1, -1, 2 ** 53 - 1, -(2 ** 53), 1.5, -1e-300, Number.MAX_VALUE]],
  ['NaN and infinities', [NaN, Infinity, -Infinity]],
  ['negative zero', -0, 0],
  ['64-bit bigints', [5n, -(2n ** 63n), 2n ** 64n - 1n]],
  ['strings', ['', 'a', 'ção', '\u0000', 'x'.repeat(10_000)]],
  ['bytes', new Uint8Array([0, 1, 254, 255])],
  ['a Buffer, as plain bytes', Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3])],
  ['nested arrays and objects', { a: [1, { b: [new Uint8Array([9]), null] }], 'key with spaces': { '': 'empty key' } }],
  ['an object without prototype', Object.assign(Object.create(null) as object, { x: 1 }), { x: 1 }],
  ['undefined inside objects and arrays', { u: undefined, list: [undefined, 1] }],
];

/** Values outside the domain, refused with a TransportError naming what they are. */
const REFUSED: Array<[label: string, value: unknown, named: RegExp]> = [
  ['a Map', { m: new Map([[1, 2]]) }, /body\.m is a Map/],
  ['a Set', [new Set([1])], /body\[0\] is a Set/],
  ['a Date', { when: new Date(0) }, /body\.when is a Date/],
  ['a RegExp', /x/, /body is a RegExp/],
  ['another typed array', new Uint16Array([1]), /body is a Uint16Array/],
  ['a class instance', { p: new (class Point { x = 1 })() }, /body\.p is a Point/],
  ['a function', { f: () => 1 }, /body\.f is a function/],
  ['a symbol', Symbol('s'), /body is a symbol/],
  ['a bigint over 64 bits', 2n ** 70n, /body is a bigint outside 64-bit integers/],
  ['a cycle', (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })(), /body\.self is a reference back/],
];

let nodeCounter = 0;
const uniqueNode = (label: string) => `compliance-${label}-${process.pid}-${++nodeCounter}@test`;

export function transportCompliance(options: TransportComplianceOptions): void {
  describe(`Transport compliance: ${options.name}`, () => {
    let harness: TransportHarness;
    const opened: Transport[] = [];
    const listeners: Listener[] = [];

    beforeEach(async () => {
      harness = await options.setup();
    });
    afterEach(async () => {
      for (const l of listeners.splice(0)) await l.close().catch(() => {});
      for (const t of opened.splice(0)) await t.close().catch(() => {});
      await harness.teardown();
    });

    const connect = async () => {
      const t = await harness.connect();
      opened.push(t);
      return t;
    };
    /** A node served on its own transport, answering with `handler`; and a client transport. */
    async function served(handler: MessageHandler): Promise<{ node: string; client: Transport; server: Transport }> {
      const server = await connect();
      const node = uniqueNode('srv');
      listeners.push(await server.listen(node, handler));
      return { node, client: await connect(), server };
    }

    it('rejects a request to a node nobody serves at once, with NodeUnreachableError', async () => {
      const client = await connect();
      const started = Date.now();
      const err = await client.request(uniqueNode('nobody'), { type: 'x', body: null }, { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NodeUnreachableError);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('rejects a request not answered in time with a TimeoutError naming the node', async () => {
      const { node, client } = await served(() => new Promise(() => {}));
      const err = await client.request(node, { type: 'slow', body: null }, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toContain(node);
    });

    it('delivers the type and body, and returns the handler result', async () => {
      const { node, client } = await served((msg) => ({ type: msg.type, body: msg.body }));
      expect(await client.request(node, { type: 'echo', body: { a: 1 } }, { timeoutMs: 5000 })).toEqual({ type: 'echo', body: { a: 1 } });
    });

    it("rejects with the remote error's class name and message, ringkv's own classes as themselves", async () => {
      class InventoryError extends Error {
        override name = 'InventoryError';
      }
      const { node, client } = await served((msg) => {
        if (msg.type === 'custom') throw new InventoryError('out of eggs');
        if (msg.type === 'ringkv') throw new NoEntryError('could not find entry for "x" in table []');
        if (msg.type === 'async') return Promise.reject(new ArgumentError('bad argument'));
        return null;
      });
      const custom = (await client.request(node, { type: 'custom', body: null }, { timeoutMs: 5000 }).catch((e: unknown) => e)) as Error;
      expect(custom).toBeInstanceOf(Error);
      expect(custom.name).toBe('InventoryError');
      expect(custom.message).toBe('out of eggs');
      const own = await client.request(node, { type: 'ringkv', body: null }, { timeoutMs: 5000 }).catch((e: unknown) => e);
      expect(own).toBeInstanceOf(NoEntryError);
      expect((own as Error).message).toBe('could not find entry for "x" in table []');
      await expect(client.request(node, { type: 'async', body: null }, { timeoutMs: 5000 })).rejects.toBeInstanceOf(ArgumentError);
    });

    it('carries bytes exactly: every byte value, empty and large, as plain Uint8Array both ways', async () => {
      const { node, client } = await served((msg) => msg.body);
      const all = new Uint8Array(256).map((_, i) => i);
      const large = new Uint8Array(200_000).map((_, i) => (i * 31 + 7) & 0xff);
      for (const bytes of [new Uint8Array(0), all, large]) {
        const back = (await client.request(node, { type: 'bytes', body: bytes }, { timeoutMs: 10_000 })) as Uint8Array;
        expect(back.constructor).toBe(Uint8Array);
        expect(Buffer.compare(Buffer.from(back), Buffer.from(bytes))).toBe(0);
      }
    });

    it('copies payloads: neither side sees the other mutate what it sent', async () => {
      let received: Uint8Array | undefined;
      const kept = new Uint8Array([7, 7, 7]);
      const { node, client } = await served((msg) => {
        received = msg.body as Uint8Array;
        return kept;
      });
      const sent = new Uint8Array([1, 2, 3]);
      const reply = (await client.request(node, { type: 'copy', body: sent }, { timeoutMs: 5000 })) as Uint8Array;
      sent[0] = 99;
      reply[0] = 99;
      expect([...received!]).toEqual([1, 2, 3]);
      expect([...kept]).toEqual([7, 7, 7]);
    });

    describe('the payload domain (the same on every transport)', () => {
      for (const [label, value, expected] of DOMAIN) {
        it(`carries ${label} both ways`, async () => {
          let seen: unknown;
          const { node, client } = await served((msg) => {
            seen = msg.body;
            return msg.body;
          });
          const back = await client.request(node, { type: 'value', body: value }, { timeoutMs: 5000 });
          const want = expected === undefined && label !== 'undefined' ? value : expected;
          expect(seen).toEqual(want);
          expect(back).toEqual(want);
          if (label === 'negative zero') expect(Object.is(back, 0)).toBe(true);
        });
      }
      for (const [label, value, named] of REFUSED) {
        it(`refuses ${label} in a request and in a reply, naming it`, async () => {
          const handler = vi.fn(() => value);
          const { node, client } = await served(handler);
          const sent = await client.request(node, { type: 'bad', body: value }, { timeoutMs: 5000 }).catch((e: unknown) => e);
          expect(sent).toBeInstanceOf(TransportError);
          expect((sent as Error).message).toMatch(named);
          expect(handler).not.toHaveBeenCalled();
          const replied = await client.request(node, { type: 'ok', body: null }, { timeoutMs: 5000 }).catch((e: unknown) => e);
          expect(replied).toBeInstanceOf(TransportError);
          expect((replied as Error).message).toMatch(new RegExp(named.source.replace(/^body/, 'reply')));
        });
      }
    });

    describe('publish / subscribe', () => {
      it('delivers to every subscriber on any transport, then nothing after the listener closes', async () => {
        const a = await connect();
        const b = await connect();
        const pub = await connect();
        if (!a.subscribe || !b.subscribe || !pub.publish) throw new Error(`${options.name} does not implement publish/subscribe`);
        const topic = `compliance.t${process.pid}x${++nodeCounter}`;
        const gotA: unknown[] = [];
        const gotB: unknown[] = [];
        const la = await a.subscribe(topic, (body) => gotA.push(body));
        const lb = await b.subscribe(topic, (body) => gotB.push(body));
        await pub.publish(topic, { n: 1, bytes: new Uint8Array([1]) });
        await vi.waitFor(() => {
          expect(gotA).toEqual([{ n: 1, bytes: new Uint8Array([1]) }]);
          expect(gotB).toEqual([{ n: 1, bytes: new Uint8Array([1]) }]);
        }, { timeout: 5000, interval: 20 });
        await la.close();
        await pub.publish(topic, { n: 2 });
        await vi.waitFor(() => expect(gotB).toHaveLength(2), { timeout: 5000, interval: 20 });
        expect(gotA).toHaveLength(1);
        await lb.close();
      });

      it('refuses invalid topics and bodies outside the domain', async () => {
        const pub = await connect();
        if (!pub.publish) throw new Error(`${options.name} does not implement publish`);
        await expect(pub.publish('bad topic', null)).rejects.toBeInstanceOf(ArgumentError);
        await expect(pub.publish('ok.topic', { m: new Map() })).rejects.toThrow(/body\.m is a Map/);
      });
    });

    it('after close, requests reject and pending ones are not left hanging', async () => {
      const { node } = await served(() => new Promise(() => {}));
      const client = await harness.connect();
      const pending = client.request(node, { type: 'hang', body: null }, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      await client.close();
      const settled = await Promise.race([pending, new Promise((r) => setTimeout(() => r('still pending'), 5000))]);
      expect(settled).toBeInstanceOf(Error);
      await expect(client.request(node, { type: 'x', body: null }, { timeoutMs: 1000 })).rejects.toBeInstanceOf(TransportError);
    });
  });
}
