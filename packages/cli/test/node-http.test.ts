/**
 * A node from config with `http.port`: the HTTP API next to the text server, both counted in
 * the same /metrics, storage numbers from the node's store; no HTTP server without the setting.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createInProcessNetwork, parseConfig } from '@ringkv/core';
import { startNodeFromConfig } from '../src/node-runtime.js';

async function textSession(port: number, lines: string[]): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
  let got = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (got += d));
  socket.write(lines.map((l) => `${l}\r\n`).join(''));
  const deadline = Date.now() + 10_000;
  while ((got.match(/OK\r\n|NOT FOUND\r\n|ERROR[^\n]*\n/g) ?? []).length < lines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  return got;
}

describe('a node with http.port', () => {
  it('serves the HTTP API beside the text server, and counts both protocols in /metrics', async () => {
    const config = parseConfig({
      node: 'solo@http-cli',
      transport: 'in-process',
      routingTable: [{ from: 0, to: 255, node: 'solo@http-cli' }],
      server: { port: 0 },
      http: { port: 0, bodyLimit: 1024 },
    });
    const running = await startNodeFromConfig(config, { network: createInProcessNetwork() });
    try {
      expect(running.httpPort).toBeGreaterThan(0);
      const base = `http://127.0.0.1:${running.httpPort}`;
      expect(await textSession(running.serverPort!, ['CREATE shopping', 'PUT shopping eggs 3'])).toBe('OK\r\nOK\r\n');
      const got = await fetch(`${base}/buckets/shopping/keys/eggs`);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('3');
      expect((await fetch(`${base}/buckets/shopping/keys/big`, { method: 'PUT', body: new Uint8Array(1025) })).status).toBe(413);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^ringkv_calls_total\{protocol="text",command="KV.Bucket.put",outcome="ok",node="solo@http-cli"\} 1$/m);
      expect(metrics).toMatch(/^ringkv_calls_total\{protocol="http",command="KV.Bucket.object",outcome="ok",node="solo@http-cli"\} 1$/m);
      expect(metrics).toMatch(/^ringkv_stored_keys\{node="solo@http-cli"\} 1$/m);
      // The range table runs no anti-entropy: no family pretends otherwise.
      expect(metrics).not.toMatch(/^ringkv_anti_entropy/m);
      const stats = (await (await fetch(`${base}/stats`)).json()) as Record<string, unknown>;
      expect(stats).toMatchObject({ nodename: 'solo@http-cli', stored_keys: 1, stored_buckets: 1, node_puts_total: 1 });
    } finally {
      await running.stop();
    }
  });

  it("shows the ring's anti-entropy in /metrics and /stats: exchanges, bytes, and synced once every peer was met", async () => {
    const network = createInProcessNetwork();
    const members = ['a@aae-http', 'b@aae-http', 'c@aae-http'];
    const nodes = await Promise.all(
      members.map((name, i) =>
        startNodeFromConfig(
          parseConfig({
            node: name,
            transport: 'in-process',
            strategy: 'ring',
            storage: { backend: 'memory' },
            ring: { members, n: 3, pingIntervalMs: 100, antiEntropy: { intervalMs: 200, treeUpdateMs: 50 } },
            roles: i === 0 ? ['server', 'storage'] : ['storage'],
            server: { port: 0 },
            ...(i === 0 ? { http: { port: 0 } } : {}),
          }),
          { network },
        ),
      ),
    );
    try {
      const a = nodes[0]!;
      expect(await textSession(a.serverPort!, ['CREATE cart', 'PUT cart k v'])).toBe('OK\r\nOK\r\n');
      const base = `http://127.0.0.1:${a.httpPort}`;
      const sample = (text: string, name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
        return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      let metrics = '';
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        metrics = await (await fetch(`${base}/metrics`)).text();
        if (sample(metrics, 'ringkv_anti_entropy_synced') === 1 && sample(metrics, 'ringkv_anti_entropy_exchanges')! > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sample(metrics, 'ringkv_anti_entropy_synced')).toBe(1);
      expect(sample(metrics, 'ringkv_anti_entropy_exchanges')).toBeGreaterThan(0);
      expect(metrics).toMatch(/^ringkv_anti_entropy_bytes\{direction="sent",node="a@aae-http"\} [1-9]\d*$/m);
      expect(sample(metrics, 'ringkv_anti_entropy_exchanges_failed')).toBe(0);
      const stats = (await (await fetch(`${base}/stats`)).json()) as Record<string, unknown>;
      expect(stats).toMatchObject({ anti_entropy_synced: true, anti_entropy_exchanges_failed: 0 });
      expect(stats.anti_entropy_exchanges).toEqual(expect.any(Number));
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });

  it('serves no HTTP without http.port', async () => {
    const running = await startNodeFromConfig(
      parseConfig({ node: 'quiet@http-cli', transport: 'in-process', roles: ['storage'], routingTable: [{ from: 0, to: 255, node: 'quiet@http-cli' }] }),
      { network: createInProcessNetwork() },
    );
    try {
      expect(running.httpPort).toBeUndefined();
    } finally {
      await running.stop();
    }
  });
});
