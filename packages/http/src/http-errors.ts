/**
 * Errors the HTTP layer raises itself, each carrying the status it answers with. Errors from
 * `route` (routing, quorum, storage) are mapped to statuses in error-status.ts.
 */
import { RingkvError } from '@ringkv/core';

/** An error with the HTTP status it is answered with. */
export class HttpError extends RingkvError {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/** A percent-escape, header or query parameter that cannot be decoded: 400. */
export class BadEncodingError extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}

/** A request the API does not accept as given (bad parameter, unsupported option): 400. */
export class BadHttpRequestError extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}
