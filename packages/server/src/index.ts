/**
 * `@ringkv/server`: the guide's text protocol (CREATE / GET / PUT / DELETE) over TCP, in front
 * of a ringkv node. Every bucket operation goes through `node.route`, so it runs wherever the
 * node's strategy places the bucket. The framer and the parser are pure and usable alone.
 *
 * @example
 * import { startServer, parseLine } from '@ringkv/server';
 * const server = await startServer({ node, port: 4040 }); // logs "Accepting connections on port 4040"
 * parseLine(new TextEncoder().encode('PUT shopping eggs 3')); // { op: 'PUT', bucket, key, value } (bytes)
 * await server.close();
 */
export { createLineFramer, type FramerEvent, type LineFramer, type LineFramerOptions } from './line-framer.js';
export { tokenize, separatorLength, SEPARATOR_CODE_POINTS } from './tokenizer.js';
export { parseLine, type Command, type ParsedLine } from './command.js';
export { runCommand, type Router } from './command-runner.js';
export * as replies from './replies.js';
export { UnexpectedReplyError, UnrepresentableValueError } from './errors.js';
export { changeFeedSenders, createChangeFeed, MAX_BATCH_BYTES, topicForBucket, type BucketChange, type ChangeFeed, type ChangeFeedOptions, type ChangeListener } from './change-feed.js';
export {
  startServer,
  DEFAULT_MAX_QUEUED_LINES,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_MAX_SUBSCRIBER_BACKLOG,
  type ServerOptions,
  type RunningServer,
} from './server.js';
