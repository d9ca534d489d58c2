/** Errors of the text-protocol server. */
import { RingkvError } from '@ringkv/core';

/** A storage function answered something the protocol has no reply for. */
export class UnexpectedReplyError extends RingkvError {}
