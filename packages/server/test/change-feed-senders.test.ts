/**
 * Change events name their sender, and a node's feed relays only events from members (itself,
 * and the nodes its strategy places buckets on); anything else published on the topic is
 * dropped and logged, rate-limited.
 */
import { describe, expect, it, vi } from 'vitest';
import { createInProcessNetwork, createNode, createRangeStrategy, type Logger } from '@ringkv/core';
import { changeFeedSenders, createChangeFeed, MAX_BATCH_BYTES, topicForBucket, type BucketChange } from '../src/index.js';

const FOO = 'foo@computer-name';
const BAR = 'bar@computer-name';
const enc = new TextEncoder();

function recording(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, debug: () => {}, info: () => {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('change feed senders', () => {
  it("stamps changes with the sender and relays only members' changes", async () => {
    const network = createInProcessNetwork();
    const table = [
      { from: 'a', to: 'm', node: FOO },
      { from: 'n', to: 'z', node: BAR },
    ];
    const foo = createNode({ name: FOO, transport: network.transport(), strategy: createRangeStrategy(table) });
    const bar = createNode({ name: BAR, transport: network.transport(), strategy: createRangeStrategy(table) });
    const logger = recording();
    const fooFeed = createChangeFeed(foo.transport, logger, changeFeedSenders(foo));
    const barFeed = createChangeFeed(bar.transport, silent(), changeFeedSenders(bar));
    const seen: BucketChange[] = [];
    const bucket = enc.encode('shopping');
    await fooFeed.subscribe(bucket, (c) => seen.push(c));

    barFeed.publish({ bucket, key: enc.encode('eggs'), value: enc.encode('3') });
    await settle();
    expect(seen.map((c) => [c.from, new TextDecoder().decode(c.key)])).toEqual([[BAR, 'eggs']]);

    // Anyone else on the bus: without a sender, or naming a stranger.
    const stranger = network.transport();
    const topic = topicForBucket(bucket);
    for (let i = 0; i < 1000; i++) await stranger.publish!(topic, { bucket, key: enc.encode(`forged${i}`), value: enc.encode('x') });
    await stranger.publish!(topic, { bucket, key: enc.encode('forged'), value: enc.encode('x'), from: 'mallory@elsewhere' });
    await settle();
    expect(seen).toHaveLength(1);
    expect(logger.lines.length).toBeLessThanOrEqual(6);
    expect(logger.lines[0]).toBe(`dropped a change event without a sender (topic ${topic})`);
    await fooFeed.close();
    await barFeed.close();
  });

  it("counts this node, the strategy's members and reachable nodes; follows a new strategy", async () => {
    const network = createInProcessNetwork();
    const node = createNode({
      name: 'solo@h',
      transport: network.transport(),
      strategy: createRangeStrategy([{ from: 0, to: 255, node: FOO }]),
    });
    const rules = changeFeedSenders(node);
    expect(rules.node).toBe('solo@h');
    expect([FOO, 'solo@h'].map((n) => rules.isMember!(n))).toEqual([true, true]);
    // Not named anywhere and nobody serves it: not a member.
    expect(await rules.isMember!(BAR)).toBe(false);
    node.setStrategy(createRangeStrategy([{ from: 0, to: 255, node: BAR }]));
    expect(rules.isMember!(BAR)).toBe(true);
    expect(await rules.isMember!(FOO)).toBe(false);
    expect(changeFeedSenders({ route: () => 1 } as never)).toEqual({});
  });

  it('relays, in order, the changes of a server-only node no table names, once it answers as a node', async () => {
    const network = createInProcessNetwork();
    const table = [{ from: 0, to: 255, node: BAR }];
    const bar = createNode({ name: BAR, transport: network.transport(), strategy: createRangeStrategy(table) });
    // baz serves the text protocol only: bar's table does not name it.
    const baz = createNode({ name: 'baz@computer-name', transport: network.transport(), strategy: createRangeStrategy(table) });
    await bar.start();
    await baz.start();
    const barFeed = createChangeFeed(bar.transport, silent(), changeFeedSenders(bar));
    const bazFeed = createChangeFeed(baz.transport, silent(), changeFeedSenders(baz));
    const bucket = enc.encode('zebra');
    const seen: string[] = [];
    await barFeed.subscribe(bucket, (c) => seen.push(`${c.from} ${new TextDecoder().decode(c.key)}`));
    for (let i = 0; i < 5; i++) bazFeed.publish({ bucket, key: enc.encode(`k${i}`), value: null });
    await vi.waitFor(() => expect(seen).toHaveLength(5));
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `baz@computer-name k${i}`));
    await barFeed.close();
    await bazFeed.close();
    await bar.stop();
    await baz.stop();
  });
});

describe('change feed batches', () => {
  it('publishes one message per topic per turn, in order, split by size; receivers take batches and single changes', async () => {
    const network = createInProcessNetwork();
    const sent: Array<{ topic: string; body: { from?: string; changes: BucketChange[] } }> = [];
    const inner = network.transport();
    const counting = {
      publish: (topic: string, body: unknown) => {
        sent.push({ topic, body: body as { from?: string; changes: BucketChange[] } });
        return inner.publish!(topic, body);
      },
      subscribe: inner.subscribe!.bind(inner),
    };
    const writer = createChangeFeed(counting, silent(), { node: FOO, isMember: () => true });
    const reader = createChangeFeed(network.transport(), silent(), { node: BAR, isMember: (n) => n === FOO });
    const a = enc.encode('apples');
    const b = enc.encode('bananas');
    const seen: string[] = [];
    await reader.subscribe(a, (c) => seen.push(`${c.from} a ${new TextDecoder().decode(c.key)}`));
    await reader.subscribe(b, (c) => seen.push(`${c.from} b ${new TextDecoder().decode(c.key)}`));

    for (let i = 0; i < 50; i++) writer.publish({ bucket: i % 2 ? a : b, key: enc.encode(`k${i}`), value: enc.encode(String(i)) });
    expect(sent).toHaveLength(0); // held until the turn ends
    await vi.waitFor(() => expect(seen).toHaveLength(50));
    expect(sent.map((m) => [m.topic, m.body.from, m.body.changes.length])).toEqual([
      [topicForBucket(b), FOO, 25],
      [topicForBucket(a), FOO, 25],
    ]);
    expect(seen.filter((x) => x.includes(' a '))).toEqual(Array.from({ length: 25 }, (_, j) => `${FOO} a k${2 * j + 1}`));

    // Values past the size cap go in several messages, still in order.
    sent.length = 0;
    seen.length = 0;
    const big = new Uint8Array(MAX_BATCH_BYTES / 4);
    for (let i = 0; i < 10; i++) writer.publish({ bucket: a, key: enc.encode(`big${i}`), value: big });
    await vi.waitFor(() => expect(seen).toHaveLength(10));
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const m of sent) expect(m.body.changes.reduce((n, c) => n + c.key.length + c.bucket.length + (c.value?.length ?? 0), 0)).toBeLessThanOrEqual(MAX_BATCH_BYTES + 64);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `${FOO} a big${i}`));

    // A single change of the older shape still arrives; a malformed batch is dropped whole.
    seen.length = 0;
    const other = network.transport();
    await other.publish!(topicForBucket(a), { bucket: a, key: enc.encode('single'), value: null, from: FOO });
    await other.publish!(topicForBucket(a), { from: FOO, changes: [{ bucket: a, key: enc.encode('ok'), value: null }, { bucket: a, key: 'not bytes', value: null }] });
    await other.publish!(topicForBucket(a), { from: FOO, changes: [{ bucket: a, key: enc.encode('spoof'), value: null, from: 'mallory@elsewhere' }] });
    await other.publish!(topicForBucket(a), { from: 'mallory@elsewhere', changes: [{ bucket: a, key: enc.encode('stranger'), value: null }] });
    await other.publish!(topicForBucket(a), { from: FOO, changes: 'nope' });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([`${FOO} a single`]);
    await writer.close();
    await reader.close();
  });
});

function silent(): Logger {
  return { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
}
