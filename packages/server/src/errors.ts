/** Errors of the text-protocol server. */
import { RingkvError } from '@ringkv/core';

/** A storage function answered something the protocol has no reply for. */
export class UnexpectedReplyError extends RingkvError {}
/** A stored value holds bytes (CR or LF) that a reply line cannot carry without breaking framing. */
export class UnrepresentableValueError extends RingkvError {}
