/** A tiny TCP client for the socket tests: send bytes, wait for an exact number of reply bytes. */
import { connect, type Socket } from 'node:net';

export interface LineClient {
  readonly socket: Socket;
  send(data: string | Uint8Array): void;
  /** Waits until `expected` bytes arrived and returns exactly that many (as latin1 text). */
  read(length: number, timeoutMs?: number): Promise<string>;
  /** Sends `line`, waits for a reply as long as `expected`, and returns it. */
  ask(line: string | Uint8Array, expected: string | Uint8Array): Promise<string>;
  /** Resolves when the server ended the connection (with every byte received by then). */
  ended(): Promise<string>;
  received(): Buffer;
  close(): void;
}

export const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

export async function openClient(port: number): Promise<LineClient> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer = Buffer.alloc(0);
  let consumed = 0;
  let waiters: (() => void)[] = [];
  let endedFlag = false;
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    wake();
  });
  socket.on('end', () => {
    endedFlag = true;
    wake();
  });
  socket.on('error', () => {
    endedFlag = true;
    wake();
  });

  async function until(pred: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}; got ${JSON.stringify(latin1(buffer.subarray(consumed)))}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  const client: LineClient = {
    socket,
    send(data) {
      socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    },
    async read(length, timeoutMs = 3000) {
      await until(() => buffer.length - consumed >= length, timeoutMs, () => `${length} bytes`);
      const out = buffer.subarray(consumed, consumed + length);
      consumed += length;
      return latin1(out);
    },
    async ask(line, expected) {
      client.send(line);
      return client.read(typeof expected === 'string' ? Buffer.byteLength(expected, 'latin1') : expected.length);
    },
    async ended() {
      await until(() => endedFlag, 3000, () => 'the server to close');
      const rest = latin1(buffer.subarray(consumed));
      consumed = buffer.length;
      return rest;
    },
    received: () => buffer,
    close() {
      socket.destroy();
    },
  };
  return client;
}

/** The guide's integration test ("server interaction"): each request line and its exact reply. */
export const GUIDE_SESSION: readonly (readonly [string, string])[] = [
  ['UNKNOWN shopping\r\n', 'UNKNOWN COMMAND\r\n'],
  ['GET shopping eggs\r\n', 'NOT FOUND\r\n'],
  ['CREATE shopping\r\n', 'OK\r\n'],
  ['PUT shopping eggs 3\r\n', 'OK\r\n'],
  ['GET shopping eggs\r\n', '3\r\nOK\r\n'],
  ['DELETE shopping eggs\r\n', 'OK\r\n'],
  ['GET shopping eggs\r\n', '\r\nOK\r\n'],
];

/** Runs the guide's session step by step on `client`, returning what came back for each step. */
export async function runGuideSession(client: LineClient): Promise<string[]> {
  const replies: string[] = [];
  for (const [line, expected] of GUIDE_SESSION) replies.push(await client.ask(line, expected));
  return replies;
}
