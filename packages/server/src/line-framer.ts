/**
 * The line framer: bytes in, complete request lines out. No sockets, no clock.
 *
 * - A line ends at LF (0x0A). A CR alone does not end a line; a CR before the LF stays in the
 *   line, where the tokenizer treats it as whitespace.
 * - A partial line is kept until its LF arrives (or dropped by {@link LineFramer.reset} when the
 *   client goes away: a partial line is never executed).
 * - A line longer than `maxLineLength` bytes (LF excluded) yields one `too-long` event as soon as
 *   the limit is passed; its bytes are dropped, and so is everything up to its LF.
 * - The partial line lives in one buffer, grown by doubling and never past the limit, however
 *   the bytes are split into chunks: memory per framer is bounded by the limit, whatever a
 *   client sends (one byte per packet included).
 *
 * @example
 * const framer = createLineFramer({ maxLineLength: 1024 });
 * framer.push(new TextEncoder().encode('GET a b\nPUT a'));  // [{ type: 'line', line: <GET a b> }]
 * framer.push(new TextEncoder().encode(' b c\n'));          // [{ type: 'line', line: <PUT a b c> }]
 */
import { ArgumentError } from '@ringkv/core';

export type FramerEvent = { readonly type: 'line'; readonly line: Uint8Array } | { readonly type: 'too-long' };

export interface LineFramer {
  /** Feeds bytes; returns the events they complete, in order (do not modify the array). */
  push(chunk: Uint8Array): readonly FramerEvent[];
  /** Bytes of the partial line held now. */
  pending(): number;
  /** Bytes of the one buffer holding the partial line (never more than the limit). */
  capacity(): number;
  /** Drops any partial line (the client closed before sending its LF). */
  reset(): void;
}

export interface LineFramerOptions {
  /** Longest accepted line in bytes, the LF excluded. */
  maxLineLength: number;
}

const LF = 0x0a;

export function createLineFramer(options: LineFramerOptions): LineFramer {
  const max = options.maxLineLength;
  if (!Number.isInteger(max) || max <= 0) {
    throw new ArgumentError(`maxLineLength must be a positive integer, got ${String(max)}`);
  }
  // The partial line, in one buffer that grows in large steps up to the limit: a client sending
  // one byte per packet costs one buffer per connection, not one small object per packet. Few
  // large steps (4 KiB, 64 KiB, 1 MiB, ...) rather than doubling: every outgrown buffer is
  // garbage the allocator may not give back, so fewer of them keep the process smaller.
  let buf: Uint8Array = EMPTY;
  let partLength = 0;
  // True while skipping the rest of a line that was too long.
  let discarding = false;

  const clear = () => {
    partLength = 0;
    // A connection that once sent a long line does not keep its big buffer while idle.
    if (buf.length > KEEP_BUFFER_BYTES) buf = EMPTY;
  };

  const append = (bytes: Uint8Array) => {
    const need = partLength + bytes.length;
    if (need > buf.length) {
      const grown = new Uint8Array(Math.min(max, Math.max(need, buf.length * GROWTH, MIN_BUFFER_BYTES)));
      grown.set(buf.subarray(0, partLength));
      buf = grown;
    }
    buf.set(bytes, partLength);
    partLength = need;
  };

  return {
    push(chunk) {
      // Most chunks of a trickling client complete nothing: no array for them.
      let events: FramerEvent[] = NO_EVENTS;
      let start = 0;
      while (start < chunk.length) {
        const lf = chunk.indexOf(LF, start);
        const end = lf === -1 ? chunk.length : lf;
        if (discarding) {
          if (lf !== -1) discarding = false;
        } else if (partLength + (end - start) > max) {
          if (events === NO_EVENTS) events = [];
          events.push({ type: 'too-long' });
          clear();
          discarding = lf === -1;
        } else if (lf !== -1) {
          const tail = chunk.subarray(start, end);
          if (events === NO_EVENTS) events = [];
          events.push({ type: 'line', line: partLength === 0 ? copyOf(tail) : join(buf, partLength, tail) });
          clear();
        } else if (end > start) {
          append(chunk.subarray(start, end));
        }
        if (lf === -1) break;
        start = lf + 1;
      }
      return events;
    },
    pending: () => partLength,
    capacity: () => buf.length,
    reset() {
      partLength = 0;
      buf = EMPTY;
      discarding = false;
    },
  };
}

const EMPTY = new Uint8Array(0);
const NO_EVENTS: FramerEvent[] = Object.freeze([]) as unknown as FramerEvent[];
/** First allocation for a partial line. */
const MIN_BUFFER_BYTES = 4096;
const GROWTH = 16;
/** Buffers up to this size are kept for the next partial line; larger ones are dropped. */
const KEEP_BUFFER_BYTES = 4096;

// Lines outlive the chunk they came in (the socket may reuse its buffers), so they are copied.
function copyOf(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

function join(head: Uint8Array, headLength: number, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(headLength + tail.length);
  out.set(head.subarray(0, headLength), 0);
  out.set(tail, headLength);
  return out;
}
