import { describe, expect, it } from 'vitest';
import { BadRequestError, errorToWire, NoEntryError } from '@ringkv/core';
import { decodeReply, decodeRequest, encodeError, encodeRequest, encodeResult } from '../src/index.js';

describe('wire codec', () => {
  it('round-trips bytes exactly, as plain Uint8Array', () => {
    const bytes = new Uint8Array([0, 0xff, 0xc3, 0x28, 0x00, 0x0a]);
    const req = decodeRequest(encodeRequest({ type: 'route', body: { bucket: bytes, args: [bytes, 'a\u0000b'] } }));
    const body = req.body as { bucket: Uint8Array; args: [Uint8Array, string] };
    expect(body.bucket.constructor).toBe(Uint8Array);
    expect(Array.from(body.bucket)).toEqual(Array.from(bytes));
    expect(body.args[1]).toBe('a\u0000b');
    const reply = decodeReply(encodeResult({ v: bytes }), 'n@h');
    expect(reply.ok).toBe(true);
    const v = (reply as { value: { v: Uint8Array } }).value.v;
    expect(v.constructor).toBe(Uint8Array);
    expect(v).toEqual(bytes);
  });

  it('decodes from a Buffer (as the nats client may hand over) to Uint8Array too', () => {
    const data = Buffer.from(encodeResult(new Uint8Array([1, 2, 3])));
    const reply = decodeReply(data, 'n@h') as { ok: true; value: Uint8Array };
    expect(reply.value.constructor).toBe(Uint8Array);
  });

  it('copies bytes out of the message buffer', () => {
    const data = encodeResult(new Uint8Array([7, 7, 7]));
    const reply = decodeReply(data, 'n@h') as { ok: true; value: Uint8Array };
    data.fill(0);
    expect(Array.from(reply.value)).toEqual([7, 7, 7]);
  });

  it('rejects malformed requests with BadRequestError saying what was wrong', () => {
    expect(() => decodeRequest(new Uint8Array([0x92, 0xa5, 0x61]))).toThrow(BadRequestError);
    expect(() => decodeRequest(new Uint8Array([0x92, 0xa5, 0x61]))).toThrow(/not MessagePack/);
    expect(() => decodeRequest(encodeResult('x'))).toThrow(/expected a MessagePack array \[type, body\]/);
    expect(() => decodeRequest(new TextEncoder().encode('hello'))).toThrow(BadRequestError);
  });

  it('rebuilds error replies with class and message', () => {
    const reply = decodeReply(encodeError(errorToWire(new NoEntryError('could not find entry for "x"'), 'n@h')), 'n@h');
    expect(reply.ok).toBe(false);
    const err = (reply as { error: Error }).error;
    expect(err).toBeInstanceOf(NoEntryError);
    expect(err.message).toBe('could not find entry for "x"');
  });

  it('turns a malformed reply into BadRequestError naming the sender', () => {
    const reply = decodeReply(new Uint8Array([0x92, 0xa5, 0x61]), 'bar@h') as { ok: false; error: Error };
    expect(reply.error).toBeInstanceOf(BadRequestError);
    expect(reply.error.message).toContain('bar@h');
    const shape = decodeReply(encodeRequest({ type: 'x', body: 1 }), 'bar@h') as { ok: false; error: Error };
    expect(shape.error.message).toMatch(/expected \[0, result\] or \[1, error\]/);
  });
});
