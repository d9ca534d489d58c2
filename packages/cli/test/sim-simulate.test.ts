import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessNetwork, createNode } from '@ringkv/core';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { loadBuckets, splitLines } from '../src/simulate-input.js';
import { bar, progressLine } from '../src/simulate-render.js';
import { esc } from '../src/simulate-svg.js';

function capture(cwd = process.cwd()) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env: {}, cwd },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'ringkv-sim-cli-'));

interface JsonResult {
  kind: string;
  label: string;
  owner: { changed: number; fraction: number; ideal: number; betweenOldNodes: number };
  replicaSets?: { fraction: number; ideal: number; betweenOldNodes: number };
  load: { before: { node: string; buckets: number; bytes: number }[]; after: { node: string; buckets: number; bytes: number }[] };
  transfers: { from: string; to: string; buckets: number }[];
}

describe('ringkv simulate: the acceptance run', () => {
  it('--compare range,ring --nodes 5 --add 1 --buckets 100000 --json: ring moves ~1/6 and nothing between old nodes; range moves more', async () => {
    const c = capture();
    const svg = join(dir, 'acceptance.svg');
    const code = await main(['simulate', '--compare', 'range,ring', '--nodes', '5', '--add', '1', '--buckets', '100000', '--json', '--svg', svg], c.io);
    expect(c.err()).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(c.out()) as { buckets: number; members: { after: string[] }; results: JsonResult[] };
    expect(report.buckets).toBe(100_000);
    expect(report.members.after).toHaveLength(6);
    const [range, ring] = report.results as [JsonResult, JsonResult];
    expect(ring.kind).toBe('ring');
    expect(ring.owner.fraction).toBeGreaterThan((1 / 6) * 0.9);
    expect(ring.owner.fraction).toBeLessThan((1 / 6) * 1.1);
    expect(ring.owner.betweenOldNodes).toBe(0);
    expect(ring.replicaSets!.betweenOldNodes).toBe(0);
    expect(ring.transfers.every((t) => t.to === 'node6@sim')).toBe(true);
    expect(range.kind).toBe('range');
    expect(range.owner.fraction).toBeGreaterThan(ring.owner.fraction * 2);
    expect(range.owner.betweenOldNodes).toBeGreaterThan(0);

    // The chart of the same run: well-formed XML with one bar per node before and after.
    const text = readFileSync(svg, 'utf8');
    expect(XMLValidator.validate(text)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text) as { svg: Record<string, unknown> };
    const rects = collect(doc.svg, 'rect');
    for (const [i, r] of report.results.entries()) {
      const bars = rects.filter((x) => typeof x.class === 'string' && x.class.startsWith('bar'));
      const before = bars.filter((x) => x.class === 'bar before').slice(i * 5, i * 5 + 5);
      const after = bars.filter((x) => x.class === 'bar after').slice(i * 6, i * 6 + 6);
      expect(before.map((x) => [x['data-node'], Number(x['data-value'])])).toEqual(r.load.before.map((l) => [l.node, l.buckets]));
      expect(after.map((x) => [x['data-node'], Number(x['data-value'])])).toEqual(r.load.after.map((l) => [l.node, l.buckets]));
    }
    const moved = rects.filter((x) => typeof x.class === 'string' && x.class.startsWith('moved-bar'));
    expect(moved.map((x) => Number(x['data-value']))).toEqual([range.owner.fraction, ring.owner.fraction, ring.replicaSets!.fraction]);
    const labels = collect(doc.svg, 'text').map((t) => String(t['#text'] ?? ''));
    expect(labels).toContain('node6@sim');
    expect(labels.some((l) => l.startsWith('range (even): owner moved'))).toBe(true);
    expect(labels.some((l) => l.startsWith('ring (1024 vnodes, N=3): owner moved'))).toBe(true);
  });
});

describe('ringkv simulate: inputs and output', () => {
  it('reads names from a file as bytes (CRLF, empty lines, non-UTF-8) and prints a table with bars', async () => {
    const file = join(dir, 'names.txt');
    writeFileSync(file, Buffer.concat([Buffer.from('apple\r\nbanana\n\nzebra\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('Mango')]));
    const c = capture();
    expect(await main(['simulate', '--names-file', file, '--members', 'a@h,b@h', '--add-node', 'c@h', '--policy', 'even'], c.io)).toBe(0);
    const out = c.out();
    expect(out).toContain('5 names from');
    expect(out).toMatch(/owner moved: +\d+ buckets/);
    expect(out).toMatch(/c@h +- +\d/); // new node: no load before
    expect(out).toContain('█');

    const j = capture();
    expect(await main(['simulate', '--names-file', file, '--members', 'a@h,b@h', '--add-node', 'c@h', '--json', '--list-buckets'], j.io)).toBe(0);
    const list = (JSON.parse(j.out()) as { bucketList: { bucket: unknown; bytes: number | null }[] }).bucketList;
    expect(list).toEqual([
      { bucket: 'apple', bytes: null },
      { bucket: 'banana', bytes: null },
      { bucket: 'zebra', bytes: null },
      { bucket: { bytes: [0xff, 0xfe] }, bytes: null },
      { bucket: 'Mango', bytes: null },
    ]);
  });

  it('takes a target table from a file (--policy file:)', async () => {
    const table = join(dir, 'table.json');
    writeFileSync(table, JSON.stringify([{ from: 0, to: 127, node: 'a@h' }, { from: 128, to: 255, node: 'c@h' }]));
    const c = capture();
    expect(await main(['simulate', '--members', 'a@h,b@h', '--add-node', 'c@h', '--policy', `file:${table}`, '--buckets', '2000', '--json'], c.io)).toBe(0);
    const r = (JSON.parse(c.out()) as { results: JsonResult[] }).results[0]!;
    // even 2-node table: b owns 128..255, which all goes to c; a keeps 0..127.
    expect(r.transfers.map((t) => `${t.from}->${t.to}`)).toEqual(['b@h->c@h']);
    expect(r.load.after.find((l) => l.node === 'b@h')!.buckets).toBe(0);
  });

  it('plans a change to the cluster a config describes (guide table, split-loaded)', async () => {
    const config = join(dir, 'foo.json');
    writeFileSync(config, JSON.stringify({ node: 'foo@computer-name', routingTable: [{ from: 'a', to: 'm', node: 'foo@computer-name' }, { from: 'n', to: 'z', node: 'bar@computer-name' }] }));
    const names = join(dir, 'plan-names.txt');
    writeFileSync(names, 'apple\nbanana\ncherry\nkiwi\nzebra\n');
    const c = capture();
    expect(await main(['plan', '--config', config, '--add-node', 'baz@computer-name', '--policy', 'split-loaded', '--names-file', names], c.io)).toBe(0);
    const out = c.out();
    expect(out).toContain('join     baz@computer-name');
    expect(out).toContain('a..m -> foo@computer-name, n..z -> bar@computer-name');
    // foo holds 4 of 5, split at its median first byte: cherry and kiwi go to baz.
    expect(out).toContain('"cherry"  foo@computer-name -> baz@computer-name');
    expect(out).toContain('"kiwi"  foo@computer-name -> baz@computer-name');
    expect(out).not.toContain('"apple"  foo');
    expect(out).toContain('nothing has moved');

    const j = capture();
    expect(await main(['plan', '--config', config, '--add-node', 'baz@computer-name', '--policy', 'split-loaded', '--names-file', names, '--json'], j.io)).toBe(0);
    const plan = JSON.parse(j.out()) as { moved: { bucket: string; from: string; to: string }[]; plan: JsonResult };
    expect(plan.moved.map((m) => m.bucket)).toEqual(['cherry', 'kiwi']);
    expect(plan.plan.owner.changed).toBe(2);
  });

  it.each([
    [['simulate', '--nodes', 'five'], /--nodes must be a whole number/],
    [['simulate', '--buckets', '10', '--names-file', 'x'], /give one source of bucket names/],
    [['simulate', '--strategy', 'hash'], /--strategy must be range or ring/],
    [['simulate', '--compare', 'range,btree'], /unknown strategy "btree"/],
    [['simulate', '--policy', 'random'], /--policy must be/],
    [['simulate', '--from-cluster'], /needs --nats/],
    [['simulate', '--frobnicate'], /Unknown option/],
    [['plan', '--add-node', 'x@h'], /--config <file> is required/],
  ])('usage error %j exits 2 with a message', async (argv, message) => {
    const c = capture();
    expect(await main(argv, c.io)).toBe(2);
    expect(c.err()).toMatch(message);
  });

  it('an impossible change exits 1 saying what is wrong', async () => {
    const c = capture();
    expect(await main(['simulate', '--nodes', '3', '--remove', 'ghost@h', '--buckets', '10'], c.io)).toBe(1);
    expect(c.err()).toContain('SimulationError: remove: "ghost@h" is not a member');
    const d = capture();
    expect(await main(['simulate', '--names-file', join(dir, 'missing.txt')], d.io)).toBe(2);
    expect(d.err()).toContain('cannot read');
  });

  it('--help shows examples for both commands', async () => {
    for (const cmd of ['simulate', 'plan']) {
      const c = capture();
      expect(await main([cmd, '--help'], c.io)).toBe(0);
      expect(c.out()).toContain('Example');
      expect(c.out()).toContain(`ringkv ${cmd} `);
    }
  });
});

describe('--from-cluster source (over an in-process transport)', () => {
  it('asks every member for kv.buckets, counts replicas once at their largest size', async () => {
    const network = createInProcessNetwork();
    const stored: Record<string, { bucket: Uint8Array; keys: number; bytes: number }[]> = {
      'a@h': [{ bucket: Buffer.from('shopping'), keys: 2, bytes: 30 }, { bucket: Uint8Array.of(0xff, 0), keys: 1, bytes: 5 }],
      'b@h': [{ bucket: Buffer.from('shopping'), keys: 2, bytes: 34 }],
    };
    const nodes = Object.keys(stored).map((name) => {
      const node = createNode({ name, transport: network.transport() });
      node.handle('kv.buckets', () => stored[name]);
      return node;
    });
    for (const n of nodes) await n.start();
    const loaded = await loadBuckets({ kind: 'cluster', natsUrl: 'in-process', timeoutMs: 1000 }, ['a@h', 'b@h'], async () => network.transport());
    const got = [...loaded.iterate()] as { name: Uint8Array; bytes: number }[];
    expect(got.map((b) => [Buffer.from(b.name).toString('latin1'), b.bytes])).toEqual([['shopping', 34], ['\xff\x00', 5]]);
    expect(loaded.perNode).toEqual({ 'a@h': { buckets: 2, bytes: 35 }, 'b@h': { buckets: 1, bytes: 34 } });
    await expect(loadBuckets({ kind: 'cluster', natsUrl: 'in-process', timeoutMs: 200 }, ['a@h', 'ghost@h'], async () => network.transport())).rejects.toThrow(
      /node ghost@h did not list its buckets \(NodeUnreachableError/,
    );
    for (const n of nodes) await n.stop();
  });
});

describe('rendering helpers', () => {
  it('bars grow in eighths and stay within their width', () => {
    expect(bar(0, 10)).toBe('');
    expect(bar(10, 10, 4)).toBe('████');
    expect(bar(5, 10, 4)).toBe('██');
    expect(bar(8, 16, 2)).toBe('█');
    expect(bar(1, 64, 2)).toBe('▏');
  });
  it('progress line', () => {
    expect(progressLine(50, 100, 10)).toBe('\r[#####-----]  50% 50/100');
  });
  it('splits name files into byte lines', () => {
    expect(splitLines(Buffer.from('a\r\n\nb\nc')).map((b) => Buffer.from(b).toString())).toEqual(['a', 'b', 'c']);
  });
  it('escapes what XML cannot hold', () => {
    expect(esc('<a&"b">\u0001')).toBe('&lt;a&amp;&quot;b&quot;&gt;\ufffd');
  });
});

function collect(node: unknown, tag: string, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (node === null || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === tag) for (const item of Array.isArray(v) ? v : [v]) out.push(typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : { '#text': item });
    if (typeof v === 'object') for (const item of Array.isArray(v) ? v : [v]) collect(item, tag, out);
  }
  return out;
}
