import { describe, expect, it } from 'vitest';
import { replies } from '../src/index.js';

const txt = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('replies', () => {
  it('are the exact bytes of the reply table', () => {
    expect(txt(replies.OK)).toBe('OK\r\n');
    expect(txt(replies.NOT_FOUND)).toBe('NOT FOUND\r\n');
    expect(txt(replies.UNKNOWN_COMMAND)).toBe('UNKNOWN COMMAND\r\n');
    expect(txt(replies.EMPTY_VALUE)).toBe('\r\nOK\r\n');
    expect(txt(replies.LINE_TOO_LONG)).toBe('ERROR line too long\r\n');
    expect(txt(replies.valueReply(new TextEncoder().encode('3')))).toBe('3\r\nOK\r\n');
    expect([...replies.valueReply(Uint8Array.of(0, 0xff))]).toEqual([0, 0xff, 13, 10, 79, 75, 13, 10]);
  });

  it('streams changes as k SET TO v and k DELETED lines, bytes intact', () => {
    expect(txt(replies.changeLine(Buffer.from('eggs'), Buffer.from('3')))).toBe('eggs SET TO 3\r\n');
    expect(txt(replies.changeLine(Buffer.from('eggs'), null))).toBe('eggs DELETED\r\n');
    expect([...replies.changeLine(Uint8Array.of(0, 0xff), Uint8Array.of(0xc3))]).toEqual([0, 0xff, ...Buffer.from(' SET TO '), 0xc3, 13, 10]);
  });

  it('makes an ERROR reply one line, whatever the message holds', () => {
    class NoEntryError extends Error {
      override name = 'NoEntryError';
    }
    expect(txt(replies.errorReply(new NoEntryError('could not find entry for "x"')))).toBe('ERROR NoEntryError: could not find entry for "x"\r\n');
    const r = txt(replies.errorReply(new Error('line one\r\nline two\nthree\rfour\u2028five\u0085six')));
    expect(r).toBe('ERROR Error: line one line two three four five six\r\n');
    expect(txt(replies.errorReply('a string'))).toBe('ERROR Error: a string\r\n');
    const long = txt(replies.errorReply(new Error('x'.repeat(5000))));
    expect(long.length).toBeLessThanOrEqual(replies.MAX_REASON_LENGTH + 'ERROR \r\n'.length);
    expect(long.endsWith('...\r\n')).toBe(true);
  });
});
