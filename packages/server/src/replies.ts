/**
 * The exact reply bytes of the text protocol (PROTOCOL.md section 2). Every reply line ends
 * CRLF. `ERROR <reason>` is ringkv's deviation where the guide closes the connection silently;
 * the reason is always one line, whatever the error message held.
 */

// Buffers rather than plain Uint8Arrays: sockets write Buffers without wrapping them first.
export const OK: Uint8Array = Buffer.from('OK\r\n');
export const NOT_FOUND: Uint8Array = Buffer.from('NOT FOUND\r\n');
export const UNKNOWN_COMMAND: Uint8Array = Buffer.from('UNKNOWN COMMAND\r\n');
/** GET of a missing key in an existing bucket: an empty line, then OK. */
export const EMPTY_VALUE: Uint8Array = Buffer.from('\r\nOK\r\n');
export const LINE_TOO_LONG: Uint8Array = Buffer.from('ERROR line too long\r\n');
/** Sent to a connection over `server.maxConnections`, which is then closed. */
export const TOO_MANY_CONNECTIONS: Uint8Array = Buffer.from('ERROR too many connections\r\n');

/**
 * Whether `bytes` can travel inside one reply line: no CR and no LF. Values stored through the
 * library or `ringkv route` may hold either; written raw, they would end the line early and let
 * the stored bytes pose as further replies.
 */
export function canCarry(bytes: Uint8Array): boolean {
  return bytes.indexOf(0x0a) === -1 && bytes.indexOf(0x0d) === -1;
}

/** Not sent: marks a SUBSCRIBE that succeeded (the guide sends no reply; the stream follows). */
export const SUBSCRIBED: Uint8Array = new Uint8Array(0);

const VALUE_TRAILER = EMPTY_VALUE;

/** `v\r\nOK\r\n` for a GET that found `value`. */
export function valueReply(value: Uint8Array): Uint8Array {
  if (value.length === 0) return EMPTY_VALUE;
  const out = Buffer.allocUnsafe(value.length + VALUE_TRAILER.length);
  out.set(value, 0);
  out.set(VALUE_TRAILER, value.length);
  return out;
}

const SET_TO = Buffer.from(' SET TO ');
const DELETED = Buffer.from(' DELETED\r\n');
const CRLF = Buffer.from('\r\n');

/** A SUBSCRIBE stream line: `k SET TO v\r\n`, or `k DELETED\r\n` when `value` is null. */
export function changeLine(key: Uint8Array, value: Uint8Array | null): Uint8Array {
  return value === null ? Buffer.concat([key, DELETED]) : Buffer.concat([key, SET_TO, value, CRLF]);
}

/** Longest reason sent, in characters; longer ones are cut with an ellipsis. */
export const MAX_REASON_LENGTH = 1000;

/**
 * `ERROR <reason>\r\n` for a failed call: the error's class name and message, with every line
 * break and other control character replaced by a space so the reply stays one line.
 */
export function errorReply(err: unknown): Uint8Array {
  return Buffer.from(`ERROR ${errorReason(err)}\r\n`);
}

export function errorReason(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | null;
  const name = typeof e?.name === 'string' && e.name !== '' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // C0 controls, DEL, C1 controls and the Unicode line/paragraph separators.
  let reason = `${name}: ${message}`.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  if (reason.length > MAX_REASON_LENGTH) reason = `${reason.slice(0, MAX_REASON_LENGTH - 3)}...`;
  return reason;
}
