/**
 * `ringkv route <bucket> <mod> <fun> [args...]`: sends one routing call into a running
 * cluster through a node (`--via`, or the node of `--config`) and prints the result as JSON.
 * It connects as a client of its own, never as a node.
 */
import { ConfigError, DEFAULT_NATS_URL, loadConfig, remoteRouter, type BucketName, type RingkvConfig, type Transport } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command, CommandIO } from '../command.js';
import { NATS_FLAGS, NATS_FLAGS_HELP, natsConnectOptions, natsOverrides } from '../nats-flags.js';
import { UsageError } from '../command.js';

/** Extra wait of the client beyond the per-hop timeout, so a hop's own TimeoutError reaches it. */
const CLIENT_MARGIN_MS = 1000;

export interface RouteRequest {
  bucket: BucketName;
  mod: string;
  fun: string;
  args: unknown[];
  via?: string;
  config?: string;
  /** The config override of the NATS flags (`--nats`, `--nats-user`, ...). */
  nats?: Record<string, unknown>;
  timeoutMs?: number;
}

/** Parses the command line of `ringkv route` (pure). Throws UsageError on bad usage. */
export function parseRouteArgv(argv: readonly string[]): RouteRequest {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        via: { type: 'string' },
        config: { type: 'string' },
        ...NATS_FLAGS,
        timeout: { type: 'string' },
        'hex-bucket': { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (put -- before arguments that start with "-")`);
  }
  const { values, positionals } = parsed;
  if (positionals.length < 3) throw new UsageError('expected <bucket> <mod> <fun> [args...]');
  const [bucketText, mod, fun, ...rest] = positionals as [string, string, string, ...string[]];
  const bucket = values['hex-bucket'] ? hexToBytes(bucketText) : bucketText;
  const req: RouteRequest = { bucket, mod, fun, args: rest.map(parseArg) };
  if (values.via !== undefined) req.via = values.via;
  if (values.config !== undefined) req.config = values.config;
  const nats = natsOverrides(values);
  if (nats !== undefined) req.nats = nats;
  if (values.timeout !== undefined) {
    const ms = Number(values.timeout);
    if (!/^\d+$/.test(values.timeout) || ms <= 0) throw new UsageError(`--timeout must be a positive integer of ms, got ${JSON.stringify(values.timeout)}`);
    req.timeoutMs = ms;
  }
  return req;
}

/** An argument is JSON when it parses as JSON (`1`, `true`, `"x"`, `[1]`), else the string itself. */
export function parseArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function hexToBytes(hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
    throw new UsageError(`--hex-bucket: ${JSON.stringify(hex)} is not an even number of hex digits`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The result as one line of JSON. Byte strings print as `{"$bytes":"<hex>"}` (they may not be
 * text), `undefined` as `null`, bigints as decimal strings.
 */
export function formatResult(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
    if (typeof v === 'bigint') return v.toString();
    if (v === undefined) return null;
    return v;
  }) ?? 'null';
}

export const routeCommand: Command = {
  name: 'route',
  summary: 'send one routing call into a running cluster and print the result',
  help: `Usage: ringkv route <bucket> <mod> <fun> [args...] [--via <node>] [--config <file>]
                    [--hex-bucket] [--timeout <ms>] [--nats <url>] [--nats-... <file>]

Connects to NATS as a client (not as a node), sends route(bucket, mod, fun, args) to
the node --via names (or the "node" of --config) and prints the result as JSON on
stdout. That node routes the call with its own strategy, as if it had made it.

Arguments are JSON when they parse as JSON (1, true, null, "x", [1,2], {"a":1}),
else plain strings: 3 is a number, '"3"' the text 3. Put -- before arguments that
start with "-". Byte strings in results print as {"$bytes":"<hex>"}. The KV functions
take the bucket again as their first argument.

On failure prints "<ErrorClass>: <message>" on stderr and exits 1 (2 for bad usage).

Options:
  --via <node>      the node to enter the cluster at (default: the config's node)
  --config <file>   read the node name, NATS URL and hop timeout from this config
  --hex-bucket      the bucket is given as hex bytes (00 is the bucket "\\u0000")
  --timeout <ms>    per-hop timeout for this call (default: the config's hopTimeoutMs, 5000)

${NATS_FLAGS_HELP.replace('--nats <url>                   server URL(s), comma-separated for a cluster;', `--nats <url>                   server URL(s), comma-separated (default ${DEFAULT_NATS_URL});`)}

Example:
  ringkv route hello Kernel node --via foo@computer-name
  ringkv route 00 Kernel node --hex-bucket --via foo@computer-name
  ringkv route shopping KV.Bucket put shopping eggs '"3"' --via foo@computer-name
`,
  async run(argv, io) {
    const req = parseRouteArgv(argv);
    const config = configFor(req, io);
    const via = req.via ?? config.node;
    if (!via) throw new UsageError('no node to send the call to: give --via <node>, or --config with a "node"');
    if (config.transport !== 'nats') {
      throw new ConfigError(`ringkv route reaches nodes over NATS, but the configuration says transport ${JSON.stringify(config.transport)}`);
    }
    const hopTimeoutMs = req.timeoutMs ?? config.hopTimeoutMs;
    const transport: Transport = await connectNatsTransport({ ...natsConnectOptions(config), name: `ringkv route (pid ${process.pid})` });
    try {
      const client = remoteRouter(transport, via, { timeoutMs: hopTimeoutMs, marginMs: CLIENT_MARGIN_MS });
      const options = req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : undefined;
      const result = await client.route(req.bucket, req.mod, req.fun, req.args, options);
      io.stdout(`${formatResult(result)}\n`);
      return 0;
    } finally {
      await transport.close();
    }
  },
};

function configFor(req: RouteRequest, io: CommandIO): RingkvConfig {
  const overrides: Record<string, unknown> = {};
  if (req.nats) overrides.nats = req.nats;
  return loadConfig({
    ...(req.config ? { file: req.config } : { configDir: join(io.cwd, 'config') }),
    env: io.env,
    overrides,
  });
}
