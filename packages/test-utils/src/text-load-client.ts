/**
 * A text-protocol client for load tests: one connection, one command at a time, replies parsed
 * by their shape (`OK`, `NOT FOUND`, `<value>\r\nOK`, `ERROR ...`). When its server goes away it
 * fails the command in flight (that failure counts) and connects to the next server of its list.
 */
import { connect, type Socket } from 'node:net';
import type { LoadClient } from './cluster-load.js';

export interface TextLoadClient extends LoadClient {
  /** `CREATE <bucket>`: resolves to the reply line. */
  create(bucket: string): Promise<string>;
  /** GETs pipelined `depth` at a time (read-back checks of thousands of keys); replies in order, as `get` gives them. */
  getMany(items: ReadonlyArray<{ bucket: string; key: string }>, depth?: number): Promise<string[]>;
  close(): void;
}

export function textLoadClient(ports: () => readonly number[], timeoutMs = 10_000): TextLoadClient {
  let socket: Socket | undefined;
  let buffer = '';
  let wake: (() => void) | undefined;
  let broken = false;
  let turn = Math.floor(Math.random() * 1000);
  let closed = false;

  async function open(): Promise<Socket> {
    if (socket && !broken) return socket;
    const list = ports();
    const port = list[turn++ % list.length]!;
    buffer = '';
    broken = false;
    const s = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buffer += d;
      wake?.();
    });
    const fail = () => {
      broken = true;
      wake?.();
    };
    s.on('error', fail);
    s.on('close', fail);
    socket = s;
    return s;
  }

  async function reply(parse: (b: string) => { text: string; used: number } | undefined): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = parse(buffer);
      if (got) {
        buffer = buffer.slice(got.used);
        return got.text;
      }
      if (broken) throw new Error('connection lost');
      if (Date.now() > deadline) {
        broken = true;
        socket?.destroy();
        throw new Error('no reply in time');
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  }

  const line = (b: string) => {
    const i = b.indexOf('\r\n');
    return i < 0 ? undefined : { text: b.slice(0, i), used: i + 2 };
  };

  // One command at a time on the connection: replies are matched to commands by order.
  let chain: Promise<unknown> = Promise.resolve();
  function ask(command: string, parse: (b: string) => { text: string; used: number } | undefined): Promise<string> {
    const next = chain.then(() => askNow(command, parse));
    chain = next.catch(() => undefined);
    return next;
  }

  async function askNow(command: string, parse: (b: string) => { text: string; used: number } | undefined): Promise<string> {
    if (closed) throw new Error('client closed');
    let s: Socket;
    try {
      s = await open();
    } catch (err) {
      broken = true;
      throw err;
    }
    s.write(`${command}\r\n`);
    try {
      return await reply(parse);
    } catch (err) {
      socket?.destroy();
      socket = undefined;
      throw err;
    }
  }

  // A value line then OK; NOT FOUND or ERROR alone.
  const getReply = (b: string) => {
    const first = line(b);
    if (!first) return undefined;
    if (first.text === 'NOT FOUND' || first.text.startsWith('ERROR ')) return first;
    const second = line(b.slice(first.used));
    if (!second) return undefined;
    return { text: second.text === 'OK' ? first.text : `${first.text} / ${second.text}`, used: first.used + second.used };
  };

  async function getManyNow(items: ReadonlyArray<{ bucket: string; key: string }>, depth: number): Promise<string[]> {
    if (closed) throw new Error('client closed');
    const s = await open();
    const out: string[] = [];
    try {
      for (let i = 0; i < items.length; i += depth) {
        const chunk = items.slice(i, i + depth);
        s.write(chunk.map((c) => `GET ${c.bucket} ${c.key}\r\n`).join(''));
        for (let k = 0; k < chunk.length; k++) out.push(await reply(getReply));
      }
    } catch (err) {
      socket?.destroy();
      socket = undefined;
      throw err;
    }
    return out;
  }

  return {
    create: (bucket) => ask(`CREATE ${bucket}`, line),
    put: (bucket, key, value) => ask(`PUT ${bucket} ${key} ${value}`, line),
    get: (bucket, key) => ask(`GET ${bucket} ${key}`, getReply),
    getMany(items, depth = 32) {
      const next = chain.then(() => getManyNow(items, depth));
      chain = next.catch(() => undefined);
      return next;
    },
    close() {
      closed = true;
      socket?.destroy();
    },
  };
}

/**
 * Reads every acknowledged write back through each node's text server (two pipelined
 * connections per node, all nodes at once) and answers what came back wrong, as
 * `bucket/key via node: got` lines (empty when every one reads back).
 */
export async function unreadAcknowledged(
  acked: ReadonlyArray<{ bucket: string; key: string; value: string }>,
  ports: ReadonlyMap<string, number>,
  nodes: readonly string[],
): Promise<string[]> {
  const readers = nodes.flatMap((node) => [0, 1].map(() => ({ node, client: textLoadClient(() => [ports.get(node)!]) })));
  const wrong: string[] = [];
  try {
    await Promise.all(
      readers.map(async ({ node, client }, i) => {
        const mine = acked.filter((_, j) => j % 2 === i % 2);
        const got = await client.getMany(mine);
        mine.forEach((a, j) => {
          if (got[j] !== a.value) wrong.push(`${a.bucket}/${a.key} via ${node}: ${got[j]!.slice(0, 40)}`);
        });
      }),
    );
  } finally {
    for (const r of readers) r.client.close();
  }
  return wrong;
}
