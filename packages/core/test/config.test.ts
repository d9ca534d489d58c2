import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, startLocalCluster, DEFAULT_HOP_TIMEOUT_MS } from '../src/index.js';

const repoConfig = fileURLToPath(new URL('../../../config/', import.meta.url));

function tmpConfig(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-config-'));
  for (const [name, value] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
  }
  return dir;
}

describe('config', () => {
  it('ships a default with an empty table and the guide\'s 5000 ms hop', () => {
    const c = loadConfig({ configDir: repoConfig, env: {} });
    expect(c.routingTable).toEqual([]);
    expect(c.strategy).toBe('range');
    expect(c.hopTimeoutMs).toBe(DEFAULT_HOP_TIMEOUT_MS);
    expect(c.server.port).toBe(4040);
  });

  it('reproduces the guide with config/foo.json and config/bar.json', async () => {
    const foo = loadConfig({ file: join(repoConfig, 'foo.json'), env: {} });
    const bar = loadConfig({ file: join(repoConfig, 'bar.json'), env: {} });
    expect(foo.node).toBe('foo@computer-name');
    expect(foo.routingTable).toEqual([
      { from: 97, to: 109, node: 'foo@computer-name' },
      { from: 110, to: 122, node: 'bar@computer-name' },
    ]);
    expect(bar.routingTable).toEqual([{ from: 97, to: 122, node: 'bar@computer-name' }]);
    const cluster = await startLocalCluster([
      { name: foo.node!, routingTable: foo.routingTable },
      { name: bar.node!, routingTable: bar.routingTable },
    ]);
    try {
      expect(await cluster.node(foo.node!).route('hello', 'Kernel', 'node', [])).toBe('foo@computer-name');
      expect(await cluster.node(foo.node!).route('world', 'Kernel', 'node', [])).toBe('bar@computer-name');
      const err = (await cluster.node(foo.node!).route('\u0000', 'Kernel', 'node', []).catch((e: unknown) => e)) as Error;
      expect(err.message).toContain('could not find entry for');
      expect(err.message).toContain('a..m -> foo@computer-name');
      expect(err.message).toContain('n..z -> bar@computer-name');
    } finally {
      await cluster.stop();
    }
  });

  it('layers default < NODE_ENV file < node file < environment', () => {
    const dir = tmpConfig({
      'default.json': { hopTimeoutMs: 100, nats: { url: 'nats://a:1' } },
      'staging.json': { hopTimeoutMs: 200, maxHops: 4 },
      'n1.json': { node: 'n1@h', maxHops: 5 },
    });
    const c = loadConfig({ file: join(dir, 'n1.json'), env: { NODE_ENV: 'staging', NATS_URL: 'nats://b:2', PORT: '5050' } });
    expect(c.hopTimeoutMs).toBe(200);
    expect(c.maxHops).toBe(5);
    expect(c.nats.url).toBe('nats://b:2');
    expect(c.server.port).toBe(5050);
    expect(loadConfig({ file: join(dir, 'n1.json'), env: { RINGKV_NODE: 'other@h' } }).node).toBe('other@h');
  });

  it('serves HTTP only when http.port or HTTP_PORT says so, on 127.0.0.1 unless http.host says otherwise', () => {
    const dir = tmpConfig({ 'n1.json': { node: 'n1@h' }, 'n2.json': { node: 'n2@h', http: { port: 8098, host: '0.0.0.0', bodyLimit: 4096 } } });
    const off = loadConfig({ file: join(dir, 'n1.json'), env: {} });
    expect(off.http.port).toBeUndefined();
    expect(off.http.host).toBe('127.0.0.1');
    expect(loadConfig({ file: join(dir, 'n1.json'), env: { HTTP_PORT: '8099' } }).http.port).toBe(8099);
    const on = loadConfig({ file: join(dir, 'n2.json'), env: {} });
    expect(on.http).toMatchObject({ port: 8098, host: '0.0.0.0', bodyLimit: 4096 });
    expect(() => loadConfig({ file: join(dir, 'n1.json'), env: { HTTP_PORT: 'x' } })).toThrow(/HTTP_PORT: must be an integer/);
    expect(() => parseConfig({ http: { port: 70000 } })).toThrow(/http\.port/);
    expect(() => parseConfig({ http: { bodyLimit: 0 } })).toThrow(/http\.bodyLimit/);
  });

  it('gives the text server an idle timeout and a connection cap, both configurable', () => {
    const c = parseConfig({});
    expect(c.server.idleTimeoutMs).toBe(300_000);
    expect(c.server.maxConnections).toBe(1024);
    const set = parseConfig({ server: { idleTimeoutMs: 0, maxConnections: 10 } });
    expect(set.server).toMatchObject({ idleTimeoutMs: 0, maxConnections: 10, port: 4040 });
  });

  it('names the field and the problem for invalid files', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ routingTable: [{ from: 'a', to: 'zz', node: 'foo@h' }] }, /routingTable\[0\]: to: must be one ASCII character/],
      [{ routingTable: [{ from: 'a', to: 'z', node: 'no spaces@h' }] }, /routingTable\[0\]\.node: must look like name@host/],
      [{ hopTimeoutMs: -1 }, /hopTimeoutMs: /],
      [{ strategy: 'random' }, /strategy: /],
      [{ routingTabel: [] }, /routingTabel/],
      [{ strategy: 'ring', ring: { members: ['a@h', 'b@h'], n: 3 } }, /ring\.n: n \(3\) is larger than the number of members \(2\)/],
      [{ strategy: 'ring', ring: { members: ['a@h', 'b@h'], n: 2, r: 3 } }, /ring\.r: r \(3\) is larger than n \(2\)/],
      [{ server: { port: 70000 } }, /server\.port: /],
      [{ server: { maxConnections: 0 } }, /server\.maxConnections: /],
      [{ server: { idleTimeoutMs: -5 } }, /server\.idleTimeoutMs: /],
    ];
    for (const [raw, pattern] of cases) {
      expect(() => parseConfig(raw, 'x.json')).toThrow(ConfigError);
      expect(() => parseConfig(raw, 'x.json')).toThrow(pattern);
    }
  });

  it('reports unreadable files and bad JSON and bad PORT clearly', () => {
    const dir = tmpConfig({ 'bad.json': '{ nope', 'arr.json': '[]' });
    expect(() => loadConfig({ file: join(dir, 'bad.json'), env: {} })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ file: join(dir, 'arr.json'), env: {} })).toThrow(/must be a JSON object/);
    expect(() => loadConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(/does not exist/);
    expect(() => loadConfig({ configDir: dir, env: { PORT: 'eighty' } })).toThrow(/PORT: must be an integer/);
  });
});
