/**
 * Node names to NATS subjects. A node `foo@host.example.com` serves requests on
 * `ringkv.node.foo~40host~2Eexample~2Ecom`: the prefix, then the name's UTF-8 bytes with every
 * byte outside `[A-Za-z0-9_-]` written as `~` and two upper-case hex digits.
 *
 * Why this shape: `.` separates subject tokens and `*`, `>` and whitespace are not allowed in
 * a literal subject, so escaping everything outside a small safe set yields one valid token for
 * any name. `~` is itself escaped, so decoding is unambiguous and the mapping is injective.
 *
 * @example
 * subjectForNode('foo@computer-name'); // 'ringkv.node.foo~40computer-name'
 */
import { ArgumentError } from '@ringkv/core';

/** Every node subject starts with this. */
export const NODE_SUBJECT_PREFIX = 'ringkv.node.';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const HEX = '0123456789ABCDEF';
// With the u flag, a valid surrogate pair is one code point, so only lone surrogates match.
const LONE_SURROGATE = /\p{Cs}/u;

function isSafe(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === 0x5f || // _
    b === 0x2d // -
  );
}

/**
 * Routing calls (`route` messages) go to `ringkv.route.<token>` instead, so that NATS
 * permissions can let clients send routing calls without letting them send the replica-level
 * messages only members may send (docs/security.md).
 */
export const ROUTE_SUBJECT_PREFIX = 'ringkv.route.';

/** The subject node `name` serves requests on. Throws ArgumentError for an empty or ill-formed name. */
export function subjectForNode(name: string): string {
  return NODE_SUBJECT_PREFIX + subjectToken(name);
}

/** The subject node `name` serves routing calls on (`ringkv.route.<token>`). */
export function routeSubjectForNode(name: string): string {
  return ROUTE_SUBJECT_PREFIX + subjectToken(name);
}

/** The one subject token standing for node `name`. */
export function subjectToken(name: string): string {
  if (typeof name !== 'string' || name === '') throw new ArgumentError('node name must be a non-empty string');
  // A lone surrogate would encode as U+FFFD and collide with it: such names are refused.
  if (LONE_SURROGATE.test(name)) throw new ArgumentError(`node name ${JSON.stringify(name)} is not well-formed Unicode`);
  let out = '';
  for (const b of encoder.encode(name)) {
    out += isSafe(b) ? String.fromCharCode(b) : `~${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/**
 * The node name a subject made by {@link subjectForNode} (or {@link routeSubjectForNode})
 * stands for; undefined for any other string.
 */
export function nodeForSubject(subject: string): string | undefined {
  const prefix = subject.startsWith(NODE_SUBJECT_PREFIX) ? NODE_SUBJECT_PREFIX : subject.startsWith(ROUTE_SUBJECT_PREFIX) ? ROUTE_SUBJECT_PREFIX : undefined;
  if (prefix === undefined) return undefined;
  const token = subject.slice(prefix.length);
  if (token === '') return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x7e) {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      const b = parseInt(hex, 16);
      // A safe byte written escaped is not something subjectForNode produces.
      if (isSafe(b)) return undefined;
      bytes.push(b);
      i += 2;
    } else if (isSafe(c)) {
      bytes.push(c);
    } else {
      return undefined;
    }
  }
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}
