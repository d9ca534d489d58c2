import { describe, expect, it } from 'vitest';
import { errorFromWire, errorToWire, NoEntryError, RemoteError, TimeoutError } from '../src/index.js';

describe('errors on the wire', () => {
  it('keep class, name and message for ringkv errors', () => {
    const back = errorFromWire(errorToWire(new TimeoutError('node x did not answer within 5 ms'), 'x@h'));
    expect(back).toBeInstanceOf(TimeoutError);
    expect(back.name).toBe('TimeoutError');
    expect(back.message).toBe('node x did not answer within 5 ms');
    expect((back as TimeoutError).origin).toBe('x@h');
  });

  it('keep the name of unknown classes on a RemoteError, and the cause', () => {
    class WeirdError extends Error {
      override name = 'WeirdError';
    }
    const back = errorFromWire(errorToWire(new WeirdError('odd', { cause: new NoEntryError('inner') })));
    expect(back).toBeInstanceOf(RemoteError);
    expect(back.name).toBe('WeirdError');
    expect(back.cause).toBeInstanceOf(NoEntryError);
  });

  it('keep whether a failed write may have been applied, and only a boolean', () => {
    const may = Object.assign(new TimeoutError('write timed out'), { mayHaveApplied: true });
    const wire = errorToWire(may);
    expect(wire.mayHaveApplied).toBe(true);
    expect((errorFromWire(wire) as { mayHaveApplied?: boolean }).mayHaveApplied).toBe(true);
    expect((errorFromWire(errorToWire(Object.assign(new Error('x'), { mayHaveApplied: false }))) as { mayHaveApplied?: boolean }).mayHaveApplied).toBe(false);
    expect(errorToWire(new TimeoutError('plain'))).not.toHaveProperty('mayHaveApplied');
    expect(errorFromWire({ name: 'Error', message: 'x', mayHaveApplied: 'yes' } as never)).not.toHaveProperty('mayHaveApplied');
  });

  it('survive thrown non-errors and garbage wire values', () => {
    expect(errorFromWire(errorToWire('boom')).message).toContain('boom');
    expect(errorFromWire({} as never).name).toBe('Error');
  });
});
