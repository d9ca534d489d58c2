/**
 * The line framer: bytes in, complete request lines out. No sockets, no clock.
 *
 * - A line ends at LF (0x0A). A CR alone does not end a line; a CR before the LF stays in the
 *   line, where the tokenizer treats it as whitespace.
 * - A partial line is kept until its LF arrives (or dropped by {@link LineFramer.reset} when the
 *   client goes away: a partial line is never executed).
 * - A line longer than `maxLineLength` bytes (LF excluded) yields one `too-long` event as soon as
 *   the limit is passed; its bytes are dropped, and so is everything up to its LF. Memory per
 *   connection is therefore bounded by the limit, whatever a client sends.
 *
 * @example
 * const framer = createLineFramer({ maxLineLength: 1024 });
 * framer.push(new TextEncoder().encode('GET a b\nPUT a'));  // [{ type: 'line', line: <GET a b> }]
 * framer.push(new TextEncoder().encode(' b c\n'));          // [{ type: 'line', line: <PUT a b c> }]
 */
import { ArgumentError } from '@ringkv/core';

export type FramerEvent = { readonly type: 'line'; readonly line: Uint8Array } | { readonly type: 'too-long' };

export interface LineFramer {
  /** Feeds bytes; returns the events they complete, in order. */
  push(chunk: Uint8Array): FramerEvent[];
  /** Bytes of the partial line held now. */
  pending(): number;
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
  // Pieces of the current partial line; joined only when its LF arrives.
  let parts: Uint8Array[] = [];
  let partLength = 0;
  // True while skipping the rest of a line that was too long.
  let discarding = false;

  return {
    push(chunk) {
      const events: FramerEvent[] = [];
      let start = 0;
      while (start < chunk.length) {
        const lf = chunk.indexOf(LF, start);
        const end = lf === -1 ? chunk.length : lf;
        if (discarding) {
          if (lf !== -1) discarding = false;
        } else if (partLength + (end - start) > max) {
          events.push({ type: 'too-long' });
          parts = [];
          partLength = 0;
          discarding = lf === -1;
        } else if (lf !== -1) {
          const tail = chunk.subarray(start, end);
          events.push({ type: 'line', line: partLength === 0 ? copyOf(tail) : join(parts, partLength, tail) });
          parts = [];
          partLength = 0;
        } else if (end > start) {
          parts.push(copyOf(chunk.subarray(start, end)));
          partLength += end - start;
        }
        if (lf === -1) break;
        start = lf + 1;
      }
      return events;
    },
    pending: () => partLength,
    reset() {
      parts = [];
      partLength = 0;
      discarding = false;
    },
  };
}

// Lines outlive the chunk they came in (the socket may reuse its buffers), so they are copied.
function copyOf(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

function join(parts: readonly Uint8Array[], partLength: number, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(partLength + tail.length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.set(tail, at);
  return out;
}
