/**
 * Splitting a request line into tokens, on raw bytes: runs of whitespace separate tokens and
 * empty tokens are dropped, so leading, trailing and repeated whitespace do not matter. Bytes
 * that are not whitespace (NUL, invalid UTF-8, U+00A0) stay inside tokens unchanged.
 *
 * The whitespace set is exactly PROTOCOL.md's (the guide's `String.split/1`):
 * TAB, LF, VT, FF, CR, space, U+0085, U+1680, U+2000..U+2006, U+2008..U+200A, U+2028, U+2029,
 * U+205F, U+3000, as UTF-8. U+00A0, U+2007 and U+202F (the no-break spaces) are not in it.
 *
 * Matching byte sequences position by position agrees with decoding first: every separator
 * starts with a lead byte (0xC2, 0xE1, 0xE2, 0xE3), which can never sit inside a valid
 * multi-byte character, and an invalid byte never joins its neighbours into one character.
 *
 * @example
 * tokenize(new TextEncoder().encode('CREATE\u3000 shopping\r')); // [<CREATE>, <shopping>]
 */

/** Length in bytes of the separator starting at `i`, or 0 when none starts there. */
export function separatorLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  if (b === 0x20 || (b >= 0x09 && b <= 0x0d)) return 1;
  if (b < 0xc2) return 0;
  const b1 = bytes[i + 1];
  if (b === 0xc2) return b1 === 0x85 ? 2 : 0; // U+0085 (0xC2 0xA0 is U+00A0: not a separator)
  const b2 = bytes[i + 2];
  if (b1 === undefined || b2 === undefined) return 0;
  if (b === 0xe1) return b1 === 0x9a && b2 === 0x80 ? 3 : 0; // U+1680
  if (b === 0xe3) return b1 === 0x80 && b2 === 0x80 ? 3 : 0; // U+3000
  if (b !== 0xe2) return 0;
  if (b1 === 0x80) {
    // U+2000..U+2006, U+2008..U+200A, U+2028, U+2029; not U+2007 (0x87) nor U+202F (0xAF).
    return (b2 >= 0x80 && b2 <= 0x86) || (b2 >= 0x88 && b2 <= 0x8a) || b2 === 0xa8 || b2 === 0xa9 ? 3 : 0;
  }
  return b1 === 0x81 && b2 === 0x9f ? 3 : 0; // U+205F
}

/** The tokens of `line`: views into it, in order, never empty. */
export function tokenize(line: Uint8Array): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  let start = -1;
  let i = 0;
  const n = line.length;
  while (i < n) {
    const sep = separatorLength(line, i);
    if (sep === 0) {
      if (start === -1) start = i;
      i++;
    } else {
      if (start !== -1) {
        tokens.push(line.subarray(start, i));
        start = -1;
      }
      i += sep;
    }
  }
  if (start !== -1) tokens.push(line.subarray(start, n));
  return tokens;
}

/** The separators, as code points, for tests and docs. */
export const SEPARATOR_CODE_POINTS: readonly number[] = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x205f, 0x3000,
];
