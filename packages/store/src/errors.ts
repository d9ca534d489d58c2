/** Errors raised by the store. Registered so they keep their class across the wire. */
import { RingkvError, registerErrorClass } from '@ringkv/core';

/** The storage backend failed (Redis unreachable, a stored record that cannot be decoded). */
export class StorageError extends RingkvError {}

registerErrorClass(StorageError);
