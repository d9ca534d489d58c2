/**
 * A fallback keeps data for a down primary in one table per owner, holding objects of many
 * buckets; a field there names both: 4-byte big-endian bucket length, bucket bytes, key bytes
 * (an empty key is the bucket object). Length-prefixing makes the encoding injective.
 */
import { StorageError } from './errors.js';

export function hintedField(bucket: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bucket.length + key.length);
  new DataView(out.buffer).setUint32(0, bucket.length);
  out.set(bucket, 4);
  out.set(key, 4 + bucket.length);
  return out;
}

export function parseHintedField(field: Uint8Array): { bucket: Uint8Array; key: Uint8Array } {
  if (field.length < 4) throw new StorageError('hinted field is shorter than its length prefix');
  const len = new DataView(field.buffer, field.byteOffset, field.byteLength).getUint32(0);
  if (4 + len > field.length) throw new StorageError('hinted field is shorter than its bucket length says');
  return { bucket: field.slice(4, 4 + len), key: field.slice(4 + len) };
}
