import { afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  createInProcessNetwork,
  createModuleRegistry,
  createNode,
  createRangeStrategy,
  EmptyBucketError,
  NoEntryError,
  registerErrorClass,
  RoutingLoopError,
  startLocalCluster,
  TimeoutError,
  UndefinedFunctionError,
  NodeUnreachableError,
  type LocalCluster,
} from '../src/index.js';
import { BAR, FOO, guidePair } from './helpers.js';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('the guide\'s router tests', () => {
  it('routes requests across nodes: hello -> foo, world -> bar', async () => {
    cluster = await guidePair();
    const foo = cluster.node(FOO);
    expect(await foo.route('hello', 'Kernel', 'node', [])).toBe(FOO);
    expect(await foo.route('world', 'Kernel', 'node', [])).toBe(BAR);
  });

  it('raises on unknown entries, naming the bucket and both table entries', async () => {
    cluster = await guidePair();
    const err = await cluster.node(FOO).route('\u0000', 'Kernel', 'node', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoEntryError);
    expect((err as Error).message).toMatch(/could not find entry/);
    expect((err as Error).message).toBe(
      'could not find entry for "\\u0000" in table [a..m -> foo@computer-name, n..z -> bar@computer-name]',
    );
  });
});

describe('range table routing', () => {
  it('treats both ends of a range as inclusive, and ` and { as outside a..z', async () => {
    cluster = await startLocalCluster([{ name: FOO, routingTable: [{ from: 'a', to: 'z', node: FOO }] }]);
    const foo = cluster.node(FOO);
    expect(await foo.route('a', 'Kernel', 'node', [])).toBe(FOO);
    expect(await foo.route('z', 'Kernel', 'node', [])).toBe(FOO);
    await expect(foo.route('`', 'Kernel', 'node', [])).rejects.toThrow(/could not find entry for "`"/);
    await expect(foo.route('{', 'Kernel', 'node', [])).rejects.toThrow(/could not find entry for "\{"/);
  });

  it('routes non-ASCII names on their first UTF-8 byte, not the code point', async () => {
    // ç is U+00E7 = 231, but "ção" starts with byte 0xC3 = 195.
    cluster = await startLocalCluster([
      {
        name: FOO,
        routingTable: [
          { from: 231, to: 231, node: BAR },
          { from: 195, to: 195, node: FOO },
        ],
      },
      { name: BAR, routingTable: [{ from: 0, to: 255, node: BAR }] },
    ]);
    expect(await cluster.node(FOO).route('ção', 'Kernel', 'node', [])).toBe(FOO);
    expect(await cluster.node(FOO).route(new Uint8Array([231, 1]), 'Kernel', 'node', [])).toBe(BAR);
  });

  it('lets the first matching entry win when ranges overlap', async () => {
    cluster = await startLocalCluster([
      { name: FOO, routingTable: [{ from: 'a', to: 'z', node: BAR }, { from: 'a', to: 'm', node: FOO }] },
      { name: BAR, routingTable: [{ from: 'a', to: 'z', node: BAR }] },
    ]);
    expect(await cluster.node(FOO).route('hello', 'Kernel', 'node', [])).toBe(BAR);
  });

  it('rejects an empty bucket name with its own error', async () => {
    cluster = await guidePair();
    await expect(cluster.node(FOO).route('', 'Kernel', 'node', [])).rejects.toThrow(EmptyBucketError);
    await expect(cluster.node(FOO).route(new Uint8Array(), 'Kernel', 'node', [])).rejects.toThrow(/bucket name is empty/);
  });

  it('ends a routing loop between two nodes whose tables point at each other', async () => {
    cluster = await startLocalCluster([
      { name: FOO, routingTable: [{ from: 'a', to: 'z', node: BAR }] },
      { name: BAR, routingTable: [{ from: 'a', to: 'z', node: FOO }] },
    ]);
    const err = await cluster.node(FOO).route('loop', 'Kernel', 'node', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoutingLoopError);
    expect((err as Error).message).toContain('foo@computer-name -> bar@computer-name');
  });

  it('ends a long forwarding chain at the hop limit', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `n${i}@host`);
    cluster = await startLocalCluster(
      names.map((name, i) => ({ name, maxHops: 3, routingTable: [{ from: 0, to: 255, node: names[(i + 1) % names.length]! }] })),
    );
    await expect(cluster.node('n0@host').route('x', 'Kernel', 'node', [])).rejects.toThrow(/hop limit of 3 reached/);
  });

  it('raises the no-entry error on the node whose table has no match, and it reaches the caller intact', async () => {
    cluster = await startLocalCluster([
      { name: FOO, routingTable: [{ from: 'a', to: 'z', node: BAR }] },
      { name: BAR, routingTable: [{ from: 'a', to: 'm', node: BAR }] },
    ]);
    const err = await cluster.node(FOO).route('world', 'Kernel', 'node', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoEntryError);
    expect((err as Error).message).toBe('could not find entry for "world" in table [a..m -> bar@computer-name]');
  });

  it('uses a table changed at runtime on the next call', async () => {
    cluster = await guidePair();
    const foo = cluster.node(FOO);
    expect(await foo.route('world', 'Kernel', 'node', [])).toBe(BAR);
    const strategy = createRangeStrategy([{ from: 'a', to: 'z', node: FOO }]);
    foo.setStrategy(strategy);
    expect(await foo.route('world', 'Kernel', 'node', [])).toBe(FOO);
    strategy.setTable([]);
    await expect(foo.route('world', 'Kernel', 'node', [])).rejects.toThrow('could not find entry for "world" in table []');
  });

  it('names Mod.fun/arity and the node for an unknown function', async () => {
    cluster = await guidePair();
    const err = await cluster.node(FOO).route('world', 'Kernel', 'nodes', [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UndefinedFunctionError);
    expect((err as Error).message).toBe('function Kernel.nodes/1 is undefined or not registered on node bar@computer-name');
    await expect(cluster.node(FOO).route('hello', 'Kernel', 'node', [1])).rejects.toThrow('Kernel.node/1');
  });

  it('delivers an error thrown on the remote node with its class name and message', async () => {
    class StockError extends Error {
      constructor(message: string) {
        super(message);
        this.name = 'StockError';
      }
    }
    const modules = createModuleRegistry();
    modules.register('Shop', 'buy', {
      kind: 'write',
      arity: 1,
      fn: (_ctx, item: string) => {
        throw new StockError(`out of ${item}`);
      },
    });
    cluster = await startLocalCluster([
      { name: FOO, routingTable: [{ from: 'a', to: 'z', node: BAR }] },
      { name: BAR, routingTable: [{ from: 'a', to: 'z', node: BAR }], modules },
    ]);
    const err = (await cluster.node(FOO).route('shop', 'Shop', 'buy', ['eggs']).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('StockError');
    expect(err.message).toBe('out of eggs');
    expect(err).not.toBeInstanceOf(StockError); // not registered here: arrives as a RemoteError named StockError
    registerErrorClass(StockError);
    const again = await cluster.node(FOO).route('shop', 'Shop', 'buy', ['milk']).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(StockError);
    expect((again as Error).message).toBe('out of milk');
  });

  it('returns the local result unchanged and passes bytes through a hop intact', async () => {
    const modules = createModuleRegistry();
    modules.register('Echo', 'echo', { kind: 'plain', arity: 1, fn: (_ctx, v: unknown) => v });
    cluster = await startLocalCluster([
      { name: FOO, routingTable: [{ from: 0, to: 127, node: FOO }, { from: 128, to: 255, node: BAR }], modules },
      { name: BAR, routingTable: [{ from: 0, to: 255, node: BAR }], modules },
    ]);
    const bytes = new Uint8Array([0, 255, 0xc3, 0x28, 10, 13]);
    const viaBar = await cluster.node(FOO).route(new Uint8Array([200]), 'Echo', 'echo', [bytes]);
    expect(viaBar).toEqual(bytes);
    const local = { a: 1 };
    expect(await cluster.node(FOO).route('a', 'Echo', 'echo', [local])).toBe(local);
  });

  it('fails at the per-hop timeout with an error naming the slow node', async () => {
    const modules = createModuleRegistry();
    modules.register('Slow', 'sleep', { kind: 'plain', arity: 1, fn: (_ctx, ms: number) => new Promise((r) => setTimeout(r, ms)) });
    cluster = await startLocalCluster([
      { name: FOO, routingTable: [{ from: 0, to: 255, node: BAR }], hopTimeoutMs: 50 },
      { name: BAR, routingTable: [{ from: 0, to: 255, node: BAR }], modules },
    ]);
    const err = await cluster.node(FOO).route('x', 'Slow', 'sleep', [300]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('node bar@computer-name did not answer within 50 ms');
  });

  it('fails at once when the owner is not reachable', async () => {
    cluster = await startLocalCluster([{ name: FOO, routingTable: [{ from: 0, to: 255, node: 'ghost@nowhere' }] }]);
    await expect(cluster.node(FOO).route('x', 'Kernel', 'node', [])).rejects.toThrow(NodeUnreachableError);
    await expect(cluster.node(FOO).route('x', 'Kernel', 'node', [])).rejects.toThrow('node ghost@nowhere is not reachable');
  });

  it('rejects malformed calls with an error saying what was wrong', async () => {
    cluster = await guidePair();
    const foo = cluster.node(FOO);
    await expect(foo.route(42 as never, 'Kernel', 'node', [])).rejects.toThrow(ArgumentError);
    await expect(foo.route('a', '', 'node', [])).rejects.toThrow(/module must be a non-empty string/);
    await expect(foo.route('a', 'Kernel', 'node', 'x' as never)).rejects.toThrow(/args must be an array/);
  });

  it('answers malformed messages on its transport with an error and keeps serving', async () => {
    const network = createInProcessNetwork();
    const bar = createNode({ name: BAR, transport: network.transport(), strategy: createRangeStrategy([{ from: 0, to: 255, node: BAR }]) });
    await bar.start();
    const t = network.transport();
    await expect(t.request(BAR, { type: 'route', body: { bucket: 7 } }, { timeoutMs: 100 })).rejects.toThrow(/BadRequest|must be a string/);
    await expect(t.request(BAR, { type: 'nope', body: null }, { timeoutMs: 100 })).rejects.toThrow(/does not handle messages of type "nope"/);
    await expect(t.request(BAR, { type: 'route', body: { bucket: 'a', mod: 'Kernel', fun: 'node', args: [], path: [] } }, { timeoutMs: 100 })).resolves.toBe(BAR);
    await bar.stop();
  });
});
