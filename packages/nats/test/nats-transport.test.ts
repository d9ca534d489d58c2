import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import {
  BadRequestError,
  createModuleRegistry,
  createNode,
  createRangeStrategy,
  NoEntryError,
  NodeUnreachableError,
  TimeoutError,
  TransportError,
  type RingkvNode,
} from '@ringkv/core';
import { describeDistributed, startNatsCluster, startNatsServer, type NatsServer } from '@ringkv/test-utils';
import { connectNatsTransport, decodeReply, encodeRequest, subjectForNode, type NatsTransport } from '../src/index.js';

const FOO = 'foo@computer-name';
const BAR = 'bar@host.example.com';

/** Routes everything to `owner`; registers a few test functions. */
function makeNode(name: string, owner: string, transport: NatsTransport): RingkvNode {
  const modules = createModuleRegistry();
  modules.registerModule('T', {
    echo: { kind: 'plain', arity: 1, fn: (_ctx, v) => v },
    sleep: { kind: 'plain', arity: 1, fn: (ctx, ms: number) => new Promise((r) => setTimeout(() => r(ctx.node), ms)) },
    big: { kind: 'plain', arity: 1, fn: (_ctx, n: number) => new Uint8Array(n) },
    fail: {
      kind: 'plain',
      arity: 0,
      fn: () => {
        const err = new Error('out of eggs');
        err.name = 'InventoryError';
        throw err;
      },
    },
    noEntry: {
      kind: 'plain',
      arity: 0,
      fn: () => {
        throw new NoEntryError('could not find entry for "x" in table []');
      },
    },
  });
  return createNode({ name, transport, modules, strategy: createRangeStrategy([{ from: 0, to: 255, node: owner }]) });
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => {});
});

async function pair(url: string | string[], opts: { fooUrl?: string[]; barUrl?: string[] } = {}) {
  const tf = await connectNatsTransport({ url: opts.fooUrl ?? url, name: FOO, randomize: !opts.fooUrl });
  const tb = await connectNatsTransport({ url: opts.barUrl ?? url, name: BAR, randomize: !opts.barUrl });
  const foo = makeNode(FOO, BAR, tf);
  const bar = makeNode(BAR, BAR, tb);
  await foo.start();
  await bar.start();
  cleanup.push(
    () => tf.close(),
    () => tb.close(),
    () => foo.stop(),
    () => bar.stop(),
  );
  return { foo, bar, tf, tb };
}

describeDistributed('NATS transport', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('forwards a route to another connection and returns the same bytes', async () => {
    const { foo } = await pair(nats.url);
    expect(await foo.route('hello', 'Kernel', 'node', [])).toBe(BAR);
    const bytes = new Uint8Array([0, 0xff, 0xfe, 0xc3, 0x28, 0, 10, 13]);
    const back = (await foo.route(new Uint8Array([0xff, 0]), 'T', 'echo', [bytes])) as Uint8Array;
    expect(back.constructor).toBe(Uint8Array);
    expect(back).toEqual(bytes);
    expect(await foo.route('x', 'T', 'echo', ['ação\u0000日本'])).toBe('ação\u0000日本');
    expect(await foo.route('x', 'T', 'echo', [{ a: [1, null, true, 2 ** 40, -1.5] }])).toEqual({ a: [1, null, true, 2 ** 40, -1.5] });
  });

  it('fails at once with NodeUnreachableError when nobody serves the node', async () => {
    const t = await connectNatsTransport({ url: nats.url, name: 'client' });
    cleanup.push(() => t.close());
    const started = Date.now();
    const err = (await t.request('ghost@nowhere', { type: 'route', body: {} }, { timeoutMs: 20_000 }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(NodeUnreachableError);
    expect(err.message).toBe('node ghost@nowhere is not reachable');
    // "At once": far from the 20 s timeout.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails a slow node at the per-hop timeout with a TimeoutError naming the node', async () => {
    const { foo } = await pair(nats.url);
    const err = (await foo.route('x', 'T', 'sleep', [800], { timeoutMs: 150 }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe(`node ${BAR} did not answer within 150 ms`);
  });

  it('delivers remote errors with their class name and message', async () => {
    const { foo } = await pair(nats.url);
    const err = (await foo.route('x', 'T', 'fail', []).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('InventoryError');
    expect(err.message).toBe('out of eggs');
    const known = (await foo.route('x', 'T', 'noEntry', []).catch((e: unknown) => e)) as Error;
    expect(known).toBeInstanceOf(NoEntryError);
    expect(known.message).toBe('could not find entry for "x" in table []');
  });

  it('refuses to serve a node name already served elsewhere', async () => {
    const { tb } = await pair(nats.url);
    void tb;
    const other = await connectNatsTransport({ url: nats.url, name: 'dup' });
    cleanup.push(() => other.close());
    await expect(other.listen(BAR, () => 'me too')).rejects.toThrow(/already served/);
  });

  it('answers a malformed message with an error reply and keeps serving', async () => {
    const { foo } = await pair(nats.url);
    const raw: NatsConnection = await connect({ servers: nats.url });
    cleanup.push(() => raw.close());
    for (const junk of [
      new Uint8Array([0x92, 0xa5]),
      new TextEncoder().encode('hello'),
      new Uint8Array(0),
      encodeRequest({ type: 'route', body: 42 }),
    ]) {
      const reply = await raw.request(subjectForNode(BAR), junk, { timeout: 2000 });
      const decoded = decodeReply(reply.data, BAR);
      expect(decoded.ok).toBe(false);
      expect((decoded as { error: Error }).error).toBeInstanceOf(BadRequestError);
    }
    // A message nobody can answer (no reply subject) is dropped, not fatal.
    raw.publish(subjectForNode(BAR), new Uint8Array([1, 2, 3]));
    await raw.flush();
    expect(await foo.route('x', 'Kernel', 'node', [])).toBe(BAR);
  });

  it('fails a non-idempotent call in flight when the connection drops; calls made while down wait for the reconnect', async () => {
    const server = await startNatsServer({ jetstream: false });
    cleanup.push(() => server.stop());
    const { foo, tf } = await pair(server.url);
    expect(await foo.route('x', 'Kernel', 'node', [])).toBe(BAR);
    // A routing call (never idempotent) in flight when the server goes away fails at once, not
    // at its 20 s timeout: it may or may not have run.
    const started = Date.now();
    const inFlight = foo.route('x', 'T', 'sleep', [1000], { timeoutMs: 20_000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await server.stop();
    const lost = (await inFlight) as Error;
    expect(lost).toBeInstanceOf(TransportError);
    expect(lost.message).toMatch(/connection to NATS lost while waiting for node bar@host.example.com; the call's outcome is unknown/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await vi.waitFor(() => expect(tf.connected()).toBe(false), { timeout: 5000, interval: 100 });
    // A call made while down, with a timeout shorter than the outage, fails as not sent.
    const notSent = (await foo.route('x', 'Kernel', 'node', [], { timeoutMs: 300 }).catch((e: unknown) => e)) as Error;
    expect(notSent).toBeInstanceOf(TransportError);
    expect(notSent.message).toMatch(/call to node bar@host.example.com not sent: no connection to NATS within its 300 ms timeout/);
    // One made while down with room to wait is sent once the server is back, and answered.
    const waiting = foo.route('x', 'Kernel', 'node', [], { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    await server.restart();
    expect(await waiting).toBe(BAR);
    expect(await foo.route('x', 'Kernel', 'node', [])).toBe(BAR);
  });

  it('with coalesceWrites, the requests and replies of a turn all arrive, and replies made just before close still leave', async () => {
    const tf = await connectNatsTransport({ url: nats.url, name: FOO, coalesceWrites: true });
    const tb = await connectNatsTransport({ url: nats.url, name: BAR, coalesceWrites: true });
    cleanup.push(
      () => tf.close(),
      () => tb.close(),
    );
    const listener = await tb.listen(BAR, (m) => (m.type === 'slow' ? new Promise((r) => setTimeout(() => r(m.body), 200)) : m.body));
    const many = await Promise.all(
      Array.from({ length: 500 }, (_, i) => tf.request(BAR, { type: 'echo', body: i }, { timeoutMs: 10_000 })),
    );
    expect(many).toEqual(Array.from({ length: 500 }, (_, i) => i));
    // The listener closes while a call is being handled: its reply still leaves.
    const slow = tf.request(BAR, { type: 'slow', body: 'late' }, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    await listener.close();
    expect(await slow).toBe('late');
  });

  it('fails oversized payloads clearly and keeps serving', async () => {
    const small = await startNatsServer({ maxPayload: 4096 });
    cleanup.push(() => small.stop());
    const { foo, tf } = await pair(small.url);
    expect(tf.maxPayload()).toBe(4096);
    const tooBig = (await foo.route('x', 'T', 'echo', [new Uint8Array(10_000)]).catch((e: unknown) => e)) as Error;
    expect(tooBig).toBeInstanceOf(TransportError);
    expect(tooBig.message).toMatch(/message to node bar@host.example.com is \d+ bytes, over the NATS server's max payload of 4096 bytes/);
    const bigReply = (await foo.route('x', 'T', 'big', [10_000]).catch((e: unknown) => e)) as Error;
    expect(bigReply).toBeInstanceOf(TransportError);
    expect(bigReply.message).toMatch(/reply of node bar@host.example.com is \d+ bytes, over the NATS server's max payload of 4096 bytes/);
    expect(await foo.route('x', 'T', 'echo', [new Uint8Array(100)])).toEqual(new Uint8Array(100));
    expect(tf.connected()).toBe(true);
  });

  it('rejects a missing or non-positive timeout instead of waiting forever', async () => {
    const t = await connectNatsTransport({ url: nats.url });
    cleanup.push(() => t.close());
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, undefined as unknown as number]) {
      await expect(t.request(BAR, { type: 'route', body: {} }, { timeoutMs })).rejects.toThrow(/timeout must be a positive number of ms/);
    }
  });

  it('rejects requests after close', async () => {
    const t = await connectNatsTransport({ url: nats.url });
    await t.close();
    await expect(t.request(BAR, { type: 'route', body: {} }, { timeoutMs: 1000 })).rejects.toThrow(/transport is closed/);
  });

  it('fails to connect to a server that is not there, naming the URL', async () => {
    const down = await startNatsServer();
    await down.stop();
    const err = (await connectNatsTransport({ url: down.url, connectTimeoutMs: 2000 }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TransportError);
    expect(err.message).toContain(`cannot connect to NATS at ${down.url}`);
  });
});

describeDistributed('NATS transport on a 3-server cluster', () => {
  it('routes between nodes on different servers, and keeps routing after one server dies', async () => {
    const cluster = await startNatsCluster(3);
    cleanup.push(() => cluster.stop());
    const [u0, u1, u2] = cluster.urls as [string, string, string];
    // Each node lists all three servers, starting with a different one.
    const { foo, tf, tb } = await pair(u0, { fooUrl: [u0, u1, u2], barUrl: [u1, u2, u0] });
    expect(tf.server()).toContain(String(cluster.servers[0]!.port));
    expect(tb.server()).toContain(String(cluster.servers[1]!.port));
    expect(await vi.waitFor(() => foo.route('x', 'Kernel', 'node', []), { timeout: 10_000, interval: 100 })).toBe(BAR);
    await cluster.servers[0]!.stop();
    expect(await vi.waitFor(() => foo.route('x', 'Kernel', 'node', []), { timeout: 10_000, interval: 100 })).toBe(BAR);
    expect(tf.server()).not.toContain(String(cluster.servers[0]!.port));
    await cluster.servers[1]!.stop();
    expect(await vi.waitFor(() => foo.route('x', 'Kernel', 'node', []), { timeout: 10_000, interval: 100 })).toBe(BAR);
  });
});
