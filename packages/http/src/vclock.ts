/**
 * `X-Riak-Vclock`: the version vector of what a read returned (the `vclock` of
 * `KV.Bucket.object` under the ring), handed to the client as an opaque token and accepted
 * back on writes, where it becomes the route option `context`. The token is base64 of the
 * vector as JSON; a token this server did not issue is refused (400), never guessed at.
 *
 * @example
 * const token = encodeVclock({ 'a@ringkv#3f9c': 2 }); // 'eyJhQHJpbmdrdiMzZjljIjoyfQ=='
 * decodeVclock(token); // { 'a@ringkv#3f9c': 2 }
 */
import type { VersionVector } from '@ringkv/core';
import { BadEncodingError } from './http-errors.js';

/** Most actors a token may name (a vector grows by one actor per node incarnation that wrote). */
export const MAX_VCLOCK_ACTORS = 256;

export function encodeVclock(vv: VersionVector): string {
  return Buffer.from(JSON.stringify(vv), 'utf8').toString('base64');
}

export function decodeVclock(token: string): VersionVector {
  const bad = (why: string) => new BadEncodingError(`X-Riak-Vclock is not a vclock this server issued: ${why}`);
  const trimmed = token.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) throw bad('not base64');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8'));
  } catch {
    throw bad('not a version vector');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('not a version vector');
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > MAX_VCLOCK_ACTORS) throw bad(`more than ${MAX_VCLOCK_ACTORS} actors`);
  for (const [, n] of entries) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad('a counter is not a non-negative integer');
  }
  return parsed as VersionVector;
}
