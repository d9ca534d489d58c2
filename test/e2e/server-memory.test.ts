/**
 * The text server's memory per connection, measured as the RSS of a real `ringkv node start`
 * process: 50 connections each send a line just under the limit (64 KiB) one byte per TCP
 * packet. Before the framer kept one buffer per connection it held one small copy per packet
 * (about 100 bytes of heap per byte received: 73 MB -> 746 MB); now the growth must stay under
 * two line limits per connection.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINE_LENGTH } from '@ringkv/core';
import { startNodeProcess, type NodeProcess } from '@ringkv/test-utils';

const CONNECTIONS = 50;
const LIMIT = DEFAULT_MAX_LINE_LENGTH;
const NODE = 'mem@ringkv-test';

/** Resident set size of `pid` in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Read system calls made by `pid` so far (how many chunks the server's sockets delivered, roughly). */
function readCallsOf(pid: number): number {
  const m = readFileSync(`/proc/${pid}/io`, 'utf8').match(/^syscr:\s+(\d+)/m);
  return m ? Number(m[1]) : NaN;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** One Buffer per byte value, shared: the client spends its time writing, not allocating. */
const SINGLE_BYTES = Array.from({ length: 256 }, (_, b) => Buffer.from([b]));
const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * Writes `bytes` to every socket one byte per write (noDelay: one packet each), round-robin, and
 * yields between rounds so the server reads them about as fast as they come (small chunks).
 */
async function trickle(sockets: readonly Socket[], bytes: Uint8Array, onRound?: (i: number) => void): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    const one = SINGLE_BYTES[bytes[i]!]!;
    for (const s of sockets) s.write(one);
    if (i % 8 === 7) await tick();
    onRound?.(i);
  }
}

function collect(socket: Socket): () => string {
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  return () => text;
}

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('text server memory per connection (a real node process)', () => {
  let dir: string;
  let node: NodeProcess;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-server-memory-'));
    const config = join(dir, 'mem.json');
    writeFileSync(
      config,
      JSON.stringify({
        node: NODE,
        transport: 'in-process',
        routingTable: [{ from: 'a', to: 'z', node: NODE }],
        storage: { backend: 'memory' },
        server: { port: 0 },
      }),
    );
    node = await startNodeProcess({ config, env: { RINGKV_CONFIG_DIR: dir } });
    port = Number(node.output().match(/; port (\d+)\)/)?.[1]);
    expect(port).toBeGreaterThan(0);
  }, 60_000);

  afterAll(async () => {
    await node?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('grows by less than two line limits per connection when 50 clients send lines just under the limit one byte per packet', async () => {
    const pid = node.pid()!;
    const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => open(port)));
    const replies = sockets.map(collect);
    try {
      sockets[0]!.write('CREATE bucket\n');
      await until(
        () => replies[0]!() === 'OK\r\n',
        10_000,
        () => 'CREATE',
      );
      // Warm-up on the same connections (code compiled, heap at its working size), so the
      // measurement below sees what the connections hold, not the process settling in.
      await trickle(sockets, Buffer.from(`PUT bucket warm ${'w'.repeat(12_000)}\n`));
      await until(
        () => replies.every((r) => r() === (r === replies[0] ? 'OK\r\nOK\r\n' : 'OK\r\n')),
        30_000,
        () => 'warm-up replies',
      );

      const before = rssOf(pid);
      const readsBefore = readCallsOf(pid);
      // `PUT bucket k<i> <value>`: LIMIT - 1 bytes, the LF held back so every line stays partial.
      const head = 'PUT bucket key ';
      const line = Buffer.from(head + 'v'.repeat(LIMIT - 1 - head.length));
      let peak = before;
      await trickle(sockets, line, (i) => {
        if (i % 512 === 0) peak = Math.max(peak, rssOf(pid));
      });
      // Every line is now held in full by the server, one partial line per connection.
      await new Promise((r) => setTimeout(r, 500));
      peak = Math.max(peak, rssOf(pid));
      const reads = readCallsOf(pid) - readsBefore;
      const growth = peak - before;
      const perConnection = growth / CONNECTIONS;
      console.log(
        `[server-memory] RSS ${(before / 2 ** 20).toFixed(1)} MB -> peak ${(peak / 2 ** 20).toFixed(1)} MB: ` +
          `${(perConnection / 1024).toFixed(1)} KiB per connection for ${(line.length / 1024).toFixed(1)} KiB lines ` +
          `(${(perConnection / LIMIT).toFixed(2)} line limits); ${reads} read calls for ${line.length * CONNECTIONS} bytes ` +
          `(${((line.length * CONNECTIONS) / reads).toFixed(1)} bytes per read)`,
      );
      expect(growth).toBeLessThan(2 * LIMIT * CONNECTIONS);
      // The lines were complete and under the limit: every PUT is answered OK once its LF comes.
      for (const s of sockets) s.write('\n');
      await until(
        () => replies.every((r) => r().endsWith('OK\r\nOK\r\n')),
        30_000,
        () => `replies: ${replies.map((r) => JSON.stringify(r().slice(-20))).join(' ')}`,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
  }, 240_000);
});
