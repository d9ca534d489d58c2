/**
 * The wire format of ringkv over NATS: MessagePack (msgpackr), one message per request and
 * one per reply, each a small array so the envelope costs a few bytes:
 *
 * - request: `[type, body]`, e.g. `["route", {bucket, mod, fun, args, path}]`
 * - reply:   `[0, result]` on success, `[1, {name, message, origin?, cause?}]` on error
 *
 * Byte strings travel as MessagePack `bin` and come back as plain `Uint8Array` (not Node's
 * `Buffer`), copied out of the network buffer so stored values do not pin socket chunks.
 */
import { BadRequestError, checkWireValue, errorFromWire, type TransportMessage, type WireError } from '@ringkv/core';
import { Packr } from 'msgpackr';
import { encodeEnvelope } from './wire-encoder.js';

// Plain MessagePack (no msgpackr records): every message is self-contained, so peers never
// depend on shared structure state.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, copyBuffers: true, moreTypes: false });

export const REPLY_OK = 0;
export const REPLY_ERROR = 1;

/**
 * Throws TransportError when the body is outside the payload domain (`checkWireValue`). The
 * one-pass encoder (wire-encoder.ts) writes what msgpackr would, byte for byte; what it leaves
 * (bigints, refused values) takes the careful path.
 */
export function encodeRequest(msg: TransportMessage): Uint8Array {
  const fast = encodeEnvelope(msg.type, msg.body);
  if (fast) return fast;
  checkWireValue(msg.body, 'body');
  return packr.pack([msg.type, msg.body]);
}

/** Decodes a request; throws BadRequestError saying what was wrong. */
export function decodeRequest(data: Uint8Array): TransportMessage {
  let value: unknown;
  try {
    value = packr.unpack(asPlainBytes(data));
  } catch (err) {
    throw new BadRequestError(`malformed request: not MessagePack (${(err as Error).message})`);
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string') {
    throw new BadRequestError('malformed request: expected a MessagePack array [type, body]');
  }
  return { type: value[0], body: value[1] };
}

/** Throws TransportError when the result is outside the payload domain (`checkWireValue`). */
export function encodeResult(result: unknown): Uint8Array {
  const fast = encodeEnvelope(REPLY_OK, result);
  if (fast) return fast;
  checkWireValue(result, 'reply');
  return packr.pack([REPLY_OK, result]);
}

export function encodeError(err: WireError): Uint8Array {
  return encodeEnvelope(REPLY_ERROR, err) ?? packr.pack([REPLY_ERROR, err]);
}

export type DecodedReply = { ok: true; value: unknown } | { ok: false; error: Error };

/** Decodes a reply; a malformed one decodes to a BadRequestError naming the sender. */
export function decodeReply(data: Uint8Array, from: string): DecodedReply {
  let value: unknown;
  try {
    value = packr.unpack(asPlainBytes(data));
  } catch (err) {
    return { ok: false, error: new BadRequestError(`malformed reply from ${from}: not MessagePack (${(err as Error).message})`) };
  }
  if (Array.isArray(value) && value.length === 2) {
    if (value[0] === REPLY_OK) return { ok: true, value: value[1] };
    if (value[0] === REPLY_ERROR && value[1] !== null && typeof value[1] === 'object') {
      return { ok: false, error: errorFromWire(value[1] as WireError) };
    }
  }
  return { ok: false, error: new BadRequestError(`malformed reply from ${from}: expected [0, result] or [1, error]`) };
}

/** A reply's envelope, without rebuilding errors: for callers that only look (probes). */
export function decodeReplyValue(data: Uint8Array): { ok: true; tag: number; value: unknown } | { ok: false } {
  try {
    const value: unknown = packr.unpack(asPlainBytes(data));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'number') return { ok: true, tag: value[0], value: value[1] };
  } catch {
    // not MessagePack: the caller only needs to know it is not a reply
  }
  return { ok: false };
}

/** msgpackr decodes `bin` into the input's class; a plain Uint8Array view makes it Uint8Array. */
function asPlainBytes(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
