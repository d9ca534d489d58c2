/**
 * Concurrent values of one key (siblings) as Riak's HTTP API shows them: `300 Multiple
 * Choices` listing one vtag per sibling (`text/plain`), or every sibling as a part of a
 * `multipart/mixed` body when the client accepts it; `?vtag=` picks one sibling.
 *
 * A vtag is derived from the sibling's stored bytes (or from its being a delete), so the same
 * sibling has the same vtag on every node and every read, without storing anything extra.
 *
 * @example
 * const body = renderMultipart(siblings, 'b0undary'); // --b0undary\r\nContent-Type: ...
 */
import { createHash, randomBytes } from 'node:crypto';
import { unwrapValue, type TypedValue } from './value-envelope.js';

export interface SiblingView extends Partial<TypedValue> {
  vtag: string;
  /** The sibling is a delete (tombstone). */
  deleted: boolean;
}

/** Siblings as stored bytes (null for a delete) to their HTTP view. */
export function siblingViews(siblings: readonly (Uint8Array | null)[]): SiblingView[] {
  return siblings.map((s) => {
    const hash = createHash('sha1');
    hash.update(s === null ? 'deleted' : 'value:');
    if (s !== null) hash.update(s);
    const vtag = hash.digest('base64url').slice(0, 22);
    return s === null ? { vtag, deleted: true } : { vtag, deleted: false, ...unwrapValue(s) };
  });
}

/** The `text/plain` body of a 300 answer. */
export function renderVtagList(views: readonly SiblingView[]): string {
  return `Siblings:\n${views.map((v) => `${v.vtag}\n`).join('')}`;
}

/** A boundary that occurs in no part. */
export function pickBoundary(views: readonly SiblingView[]): string {
  for (;;) {
    const boundary = randomBytes(18).toString('base64url');
    const marker = Buffer.from(`--${boundary}`);
    if (!views.some((v) => v.value && Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).includes(marker))) return boundary;
  }
}

/** The `multipart/mixed` body of a 300 answer (RFC 2046), one part per sibling. */
export function renderMultipart(views: readonly SiblingView[], boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const v of views) {
    const headers = v.deleted
      ? `Content-Type: text/plain\r\nEtag: ${v.vtag}\r\nX-Riak-Deleted: true\r\n`
      : `Content-Type: ${v.contentType}\r\nEtag: ${v.vtag}\r\n`;
    parts.push(Buffer.from(`\r\n--${boundary}\r\n${headers}\r\n`), v.value ? Buffer.from(v.value) : Buffer.alloc(0));
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(parts);
}
