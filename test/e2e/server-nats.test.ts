/**
 * The guide's deployment over real processes: foo (server + storage, config/foo.json) and bar
 * (storage only, config/bar.json) as `ringkv node start` processes over a nats-server. A client
 * talks the text protocol to foo only; buckets live where foo's table says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNatsTransport, type NatsTransport } from '@ringkv/nats';
import { openClient, type LineClient, GUIDE_SESSION, runGuideSession, describeDistributed, startNatsServer, type NatsServer, REPO_ROOT, runRingkv, startNodeProcesses, type NodeProcesses } from '@ringkv/test-utils';

const FOO = 'foo@computer-name';
const BAR = 'bar@computer-name';
/** A third node with role "server" only: it routes every bucket to bar and stores nothing. */
const BAZ = 'baz@computer-name';
const dir = mkdtempSync(join(tmpdir(), 'ringkv-server-nats-'));
writeFileSync(join(dir, 'baz.json'), JSON.stringify({ node: BAZ, roles: ['server'], routingTable: [{ from: 'a', to: 'z', node: BAR }] }));
const portOf = (output: string) => Number(output.match(/ready \(.*; port (\d+)\)/)?.[1]);

describeDistributed('text server in front of foo and bar over NATS (processes)', () => {
  let nats: NatsServer;
  let nodes: NodeProcesses;
  let probe: NatsTransport;
  let port: number;
  const clients: LineClient[] = [];
  const client = async () => {
    const c = await openClient(port);
    clients.push(c);
    return c;
  };
  /** Names of the buckets `node` stores, as text (hex for bytes that are not UTF-8). */
  async function bucketsOn(node: string): Promise<string[]> {
    const list = (await probe.request(node, { type: 'kv.buckets', body: null }, { timeoutMs: 5000 })) as { bucket: Uint8Array }[];
    return list.map((b) => Buffer.from(b.bucket).toString('latin1')).sort();
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    nodes = await startNodeProcesses([
      { config: `${REPO_ROOT}config/foo.json`, env: { NATS_URL: nats.url, PORT: '0' } },
      { config: `${REPO_ROOT}config/bar.json`, env: { NATS_URL: nats.url } },
      { config: join(dir, 'baz.json'), env: { NATS_URL: nats.url, PORT: '0' } },
    ]);
    const ready = nodes.byName(FOO).output().match(/ready \(.*; port (\d+)\)/);
    if (!ready) throw new Error(`foo printed no port in its ready line:\n${nodes.output()}`);
    port = Number(ready[1]);
    probe = await connectNatsTransport({ url: nats.url, name: 'probe@test' });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await probe?.close();
    await nodes?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('foo logs that it accepts connections; bar (storage only) opens no port', () => {
    expect(nodes.byName(FOO).output()).toContain(`Accepting connections on port ${port}`);
    expect(nodes.byName(BAR).output()).not.toContain('Accepting connections');
  });

  it('runs the guide\'s integration test step by step on one connection, from empty nodes', async () => {
    expect(await bucketsOn(FOO)).toEqual([]);
    expect(await bucketsOn(BAR)).toEqual([]);
    const c = await client();
    expect(await runGuideSession(c)).toEqual(GUIDE_SESSION.map(([, reply]) => reply));
  });

  it('creates a bucket starting n..z through foo on bar only, and a..m on foo only', async () => {
    const c = await client();
    expect(await c.ask('CREATE zebra\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask('CREATE apple\n', 'OK\r\n')).toBe('OK\r\n');
    const onFoo = await bucketsOn(FOO);
    const onBar = await bucketsOn(BAR);
    expect(onBar).toContain('zebra');
    expect(onFoo).not.toContain('zebra');
    expect(onFoo).toContain('apple');
    expect(onBar).not.toContain('apple');
    expect(onFoo).not.toContain('shopping');
  });

  it('round-trips NUL, 0xff and invalid UTF-8 through the NATS hop', async () => {
    const c = await client();
    const bucket = Buffer.from([0x79, 0x00, 0xff, 0xc3]); // "y..." routes to bar
    const key = Buffer.from([0x00, 0xfe, 0xe2, 0x82]);
    const value = Buffer.from([0xff, 0x00, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0x01]);
    const line = (...parts: Buffer[]) => Buffer.concat([...parts.flatMap((p, i) => (i ? [Buffer.from(' '), p] : [p])), Buffer.from('\n')]);
    expect(await c.ask(line(Buffer.from('CREATE'), bucket), 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask(line(Buffer.from('PUT'), bucket, key, value), 'OK\r\n')).toBe('OK\r\n');
    const expected = Buffer.concat([value, Buffer.from('\r\nOK\r\n')]);
    expect(Buffer.from(await c.ask(line(Buffer.from('GET'), bucket, key), expected), 'latin1')).toEqual(expected);
    expect(await bucketsOn(BAR)).toContain(bucket.toString('latin1'));
    expect(await bucketsOn(FOO)).not.toContain(bucket.toString('latin1'));
  });

  it('answers ERROR, not raw bytes, for a value with CR or LF written by ringkv route', async () => {
    const c = await client();
    expect(await c.ask('CREATE zoo\n', 'OK\r\n')).toBe('OK\r\n');
    const put = await runRingkv(['route', 'zoo', 'KV.Bucket', 'put', 'zoo', 'cage', '"lion\\r\\nOK\\r\\nforged"', '--via', FOO], { env: { NATS_URL: nats.url } });
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('"ok"');
    c.send('GET zoo cage\nPUT zoo cage tame\nGET zoo cage\n');
    const why = 'ERROR UnrepresentableValueError: the stored value (16 bytes) contains a CR or LF byte, which a text-protocol reply line cannot carry; read it with route (the library or ringkv route)\r\n';
    expect(await c.read(why.length + 'OK\r\ntame\r\nOK\r\n'.length)).toBe(`${why}OK\r\ntame\r\nOK\r\n`);
  });

  it('a server-only node stores nothing and routes everything', async () => {
    const c = await openClient(portOf(nodes.byName(BAZ).output()));
    clients.push(c);
    expect(await c.ask('CREATE melon\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await c.ask('PUT melon ripe yes\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await bucketsOn(BAR)).toContain('melon');
    expect(await bucketsOn(FOO)).not.toContain('melon');
    await expect(bucketsOn(BAZ)).rejects.toThrow(/does not handle messages of type "kv.buckets"/);
    // Through foo too: "melon" is in foo's own range (a..m), so foo has no such bucket.
    const f = await client();
    expect(await f.ask('GET melon ripe\n', 'NOT FOUND\r\n')).toBe('NOT FOUND\r\n');
  });

  it('SUBSCRIBE on one node sees the changes made through another (NATS subject per bucket)', async () => {
    const sub = await openClient(portOf(nodes.byName(BAZ).output()));
    clients.push(sub);
    const f = await client();
    sub.send('SUBSCRIBE zebra\n');
    // Wait until the subscription is live: a probe written through foo arrives at baz's client.
    let live = false;
    for (let i = 0; i < 100 && !live; i++) {
      expect(await f.ask('PUT zebra probe 1\n', 'OK\r\n')).toBe('OK\r\n');
      await new Promise((r) => setTimeout(r, 20));
      live = sub.received().includes('probe SET TO 1\r\n');
    }
    expect(live).toBe(true);
    const seen = sub.received().toString('latin1');
    await sub.read(seen.lastIndexOf('probe SET TO 1\r\n') + 'probe SET TO 1\r\n'.length);
    expect(await f.ask('PUT zebra stripes 2\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await f.ask('DELETE zebra stripes\n', 'OK\r\n')).toBe('OK\r\n');
    expect(await sub.read('stripes SET TO 2\r\nstripes DELETED\r\n'.length)).toBe('stripes SET TO 2\r\nstripes DELETED\r\n');
    expect(await f.ask('SUBSCRIBE nosuchbucket\n', 'NOT FOUND\r\n')).toBe('NOT FOUND\r\n');
  });

  it('answers ERROR for a bucket with no entry in foo\'s table and keeps the connection', async () => {
    const c = await client();
    const expected = `ERROR NoEntryError: could not find entry for "Shopping" in table [a..m -> ${FOO}, n..z -> ${BAR}]\r\n`;
    expect(await c.ask('CREATE Shopping\n', expected)).toBe(expected);
    expect(await c.ask('CREATE apple\n', 'OK\r\n')).toBe('OK\r\n');
  });

  it('answers ERROR when bar is down and keeps the connection; works again once bar is back', async () => {
    const c = await client();
    const bar = nodes.byName(BAR);
    expect(await bar.kill('SIGTERM')).toBe(0);
    const expected = `ERROR NodeUnreachableError: node ${BAR} is not reachable\r\n`;
    expect(await c.ask('GET zebra k\n', expected)).toBe(expected);
    expect(await c.ask('CREATE apple\n', 'OK\r\n')).toBe('OK\r\n'); // foo's own buckets still work
    await bar.restart();
    // bar restarted empty (memory store): the bucket is gone, and that is what the reply says.
    expect(await c.ask('GET zebra k\n', 'NOT FOUND\r\n')).toBe('NOT FOUND\r\n');
  });

  it('on SIGTERM foo stops accepting and closes its connections, exiting 0', async () => {
    const c = await client();
    expect(await c.ask('GET apple k\n', '\r\nOK\r\n')).toBe('\r\nOK\r\n');
    const foo = nodes.byName(FOO);
    expect(await foo.kill('SIGTERM')).toBe(0);
    expect(await c.ended()).toBe('');
    await expect(openClient(port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
