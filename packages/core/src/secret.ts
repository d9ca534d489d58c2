/**
 * A secret string (a password, a token, an nkey seed) that cannot be printed by accident:
 * `String()`, `JSON.stringify`, template literals and `console.log` / `util.inspect` all show
 * `[redacted]`. Only {@link Secret.reveal} gives the value, at the one place that sends it.
 *
 * @example
 * const s = new Secret('hunter2');
 * `${s}`;          // '[redacted]'
 * JSON.stringify({ password: s }); // '{"password":"[redacted]"}'
 * s.reveal();      // 'hunter2'
 */
export const REDACTED = '[redacted]';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself: call only where it is handed to the library that sends it. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [INSPECT](): string {
    return `Secret(${REDACTED})`;
  }
}

/** The value of a secret given either as a plain string or as a {@link Secret}. */
export function revealSecret(value: string | Secret): string {
  return typeof value === 'string' ? value : value.reveal();
}
