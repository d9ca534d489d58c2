/**
 * The chaos suite's text-protocol client: one TCP connection, one command at a time, each with
 * a deadline. Unlike the test line client it never assumes the server is well: a reply that
 * does not come in time, or a connection that closes, is an outcome to record, not a hang.
 *
 * @example
 * const c = await connectText(4040, 2000);
 * await c.call('PUT b k v', 'put', 5000); // { ok: true, reply: 'OK' } or { ok: false, reason: '...' }
 * c.close();
 */
import { connect, type Socket } from 'node:net';

export type ReplyKind = 'put' | 'get' | 'create';

/** What one command came to. `value` is the GET's value line (empty: key missing). */
export type CallResult =
  | { readonly ok: true; readonly reply: 'OK'; readonly value?: string }
  | { readonly ok: false; readonly reason: string; readonly reply?: string };

export interface TextConnection {
  readonly port: number;
  /** Sends `line` (LF added) and waits for its whole reply, or for `timeoutMs`. */
  call(line: string, kind: ReplyKind, timeoutMs: number): Promise<CallResult>;
  /** Sends many GETs at once (pipelined) and collects every reply, in order. */
  getMany(lines: readonly string[], timeoutMs: number): Promise<CallResult[]>;
  /** Whether the connection can still be used. */
  usable(): boolean;
  close(): void;
}

export function connectText(port: number, timeoutMs: number): Promise<TextConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to port ${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(wrap(socket, port));
    });
  });
}

function wrap(socket: Socket, port: number): TextConnection {
  let buffer = '';
  let broken: string | undefined;
  let wake: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    buffer += d;
    wake?.();
  });
  const fail = (why: string) => {
    broken ??= why;
    wake?.();
  };
  socket.on('error', (err) => fail(`connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  socket.on('close', () => fail('connection closed by the server'));
  socket.on('end', () => fail('connection ended by the server'));

  /** The next complete line, or undefined at the deadline or when the connection broke. */
  async function line(deadline: number): Promise<string | undefined> {
    for (;;) {
      const at = buffer.indexOf('\r\n');
      if (at !== -1) {
        const l = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        return l;
      }
      if (broken) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          wake = undefined;
          resolve();
        };
      });
    }
  }

  const lost = (): CallResult => {
    const reason = broken ?? 'no reply in time';
    // After a timeout the stream is out of step with the commands: never reuse it.
    broken ??= reason;
    socket.destroy();
    return { ok: false, reason };
  };

  async function reply(kind: ReplyKind, deadline: number): Promise<CallResult> {
    const first = await line(deadline);
    if (first === undefined) return lost();
    if (first === 'OK') return { ok: true, reply: 'OK' };
    if (first.startsWith('ERROR ')) return { ok: false, reason: first.slice(6), reply: first };
    if (first === 'NOT FOUND') return { ok: false, reason: 'NOT FOUND', reply: first };
    if (kind !== 'get') return { ok: false, reason: `unexpected reply ${JSON.stringify(first.slice(0, 80))}`, reply: first };
    const ok = await line(deadline);
    if (ok === undefined) return lost();
    if (ok !== 'OK') return { ok: false, reason: `unexpected reply after a value: ${JSON.stringify(ok.slice(0, 80))}`, reply: ok };
    return { ok: true, reply: 'OK', value: first };
  }

  return {
    port,
    async call(text, kind, timeoutMs) {
      if (broken) return { ok: false, reason: broken };
      socket.write(`${text}\n`);
      return reply(kind, Date.now() + timeoutMs);
    },
    async getMany(lines, timeoutMs) {
      if (broken) return lines.map(() => ({ ok: false, reason: broken! }));
      socket.write(lines.map((l) => `${l}\n`).join(''));
      const deadline = Date.now() + timeoutMs;
      const out: CallResult[] = [];
      for (let i = 0; i < lines.length; i++) {
        const r = await reply('get', deadline);
        out.push(r);
        if (!r.ok && r.reply === undefined) {
          for (let j = i + 1; j < lines.length; j++) out.push({ ok: false, reason: r.reason });
          break;
        }
      }
      return out;
    },
    usable: () => broken === undefined,
    close: () => socket.destroy(),
  };
}
