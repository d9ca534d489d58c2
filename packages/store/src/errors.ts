/** Errors raised by the store. Registered so they keep their class across the wire. */
import { RingkvError, registerErrorClass } from '@ringkv/core';

/** The storage backend failed (Redis unreachable, a stored record that cannot be decoded, a full disk). */
export class StorageError extends RingkvError {}

/** A value or key over what this node's storage takes (storage.maxValueBytes, LMDB's key size). Nothing was stored. */
export class StorageLimitError extends StorageError {}

/** The data folder cannot be used: held by another process, not writable, written by a newer format. */
export class DataFolderError extends StorageError {}

registerErrorClass(StorageError);
registerErrorClass(StorageLimitError);
registerErrorClass(DataFolderError);
