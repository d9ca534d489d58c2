/**
 * The command line of `ringkv simulate` and `ringkv plan`, turned into what `@ringkv/sim`
 * takes: a membership change, the strategies to compare, and where bucket names come from.
 * Pure apart from reading the files the options name.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_RING_N, DEFAULT_RING_VNODES, loadConfig, type NatsSecurityOptions, type RangeEntryInput, type RingkvConfig } from '@ringkv/core';
import type { MembershipChangeInput, NameCharset, RangePolicy, StrategySpec } from '@ringkv/sim';
import { UsageError, type CommandIO } from './command.js';
import { natsConnectOptions } from './nats-flags.js';

export const SIMULATE_OPTIONS = {
  buckets: { type: 'string' },
  seed: { type: 'string' },
  charset: { type: 'string' },
  'names-file': { type: 'string' },
  'from-cluster': { type: 'boolean' },
  nats: { type: 'string' },
  config: { type: 'string' },
  'timeout-ms': { type: 'string' },
  strategy: { type: 'string' },
  compare: { type: 'string' },
  nodes: { type: 'string' },
  members: { type: 'string' },
  add: { type: 'string' },
  'add-node': { type: 'string', multiple: true },
  remove: { type: 'string', multiple: true },
  policy: { type: 'string' },
  initial: { type: 'string' },
  vnodes: { type: 'string' },
  n: { type: 'string' },
  json: { type: 'boolean' },
  'list-buckets': { type: 'boolean' },
  svg: { type: 'string' },
  top: { type: 'string' },
  limit: { type: 'string' },
} as const;

/** Where the bucket names come from. */
export type BucketSourceSpec =
  | { readonly kind: 'random'; readonly count: number; readonly seed: number; readonly charset: NameCharset }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'cluster'; readonly natsUrl: string; readonly timeoutMs: number; readonly security?: NatsSecurityOptions };

export interface SimulateArgs {
  readonly change: MembershipChangeInput;
  readonly strategies: StrategySpec[];
  readonly source: BucketSourceSpec;
  readonly json: boolean;
  /** Put every bucket name and size in the JSON output. */
  readonly listBuckets: boolean;
  readonly svg: string | undefined;
  /** Transfers shown per strategy. */
  readonly top: number;
  /** Moved buckets listed by `plan`. */
  readonly limit: number;
  readonly config: RingkvConfig | undefined;
}

const DEFAULT_BUCKETS = 100_000;
const MAX_BUCKETS = 50_000_000;
const DEFAULT_CLUSTER_TIMEOUT_MS = 5000;

export function parseSimulateArgs(argv: string[], io: CommandIO, mode: 'simulate' | 'plan'): SimulateArgs {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: SIMULATE_OPTIONS, allowPositionals: false, strict: true }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const list = (k: string) => (values[k] as string[] | undefined) ?? [];

  const configPath = str('config');
  if (mode === 'plan' && configPath === undefined) throw new UsageError('--config <file> is required: the plan is for the cluster that file describes');
  const config = configPath !== undefined ? loadConfig({ file: resolve(io.cwd, configPath), env: io.env }) : undefined;

  // Members: --members, else --nodes N, else the config's.
  let members: string[];
  if (str('members') !== undefined) {
    if (str('nodes') !== undefined) throw new UsageError('give either --members or --nodes, not both');
    members = splitList(str('members')!, '--members');
  } else if (str('nodes') !== undefined) {
    const n = int(str('nodes')!, '--nodes', 1, 10_000);
    members = Array.from({ length: n }, (_, i) => `node${i + 1}@sim`);
  } else if (config) {
    members = configMembers(config);
    if (members.length === 0) throw new UsageError(`the config names no members (no ring.members and an empty routingTable); give --members`);
  } else {
    members = Array.from({ length: 3 }, (_, i) => `node${i + 1}@sim`);
  }

  const add = [...list('add-node')];
  if (str('add') !== undefined) {
    const k = int(str('add')!, '--add', 0, 10_000);
    let i = members.length;
    while (add.length < list('add-node').length + k) {
      const name = `node${++i}@sim`;
      if (!members.includes(name) && !add.includes(name)) add.push(name);
    }
  }
  const remove = list('remove');
  if (mode === 'plan' && add.length === 0 && remove.length === 0) throw new UsageError('say what changes: --add-node <name>, --add <count> or --remove <name>');

  const policy = parsePolicy(str('policy') ?? 'even', io);
  const initial = str('initial') ?? 'even';
  if (initial !== 'even' && initial !== 'balanced') throw new UsageError(`--initial must be even or balanced, got ${JSON.stringify(initial)}`);
  const vnodes = str('vnodes') !== undefined ? int(str('vnodes')!, '--vnodes', 1, 100_000) : config?.ring.vnodes ?? DEFAULT_RING_VNODES;
  const n = str('n') !== undefined ? int(str('n')!, '--n', 1, 1000) : config?.ring.n ?? DEFAULT_RING_N;
  const weights = config?.strategy === 'ring' ? config.ring.weights : undefined;
  const configTable = config?.strategy === 'range' && config.routingTable.length > 0 && str('members') === undefined && str('nodes') === undefined ? config.routingTable : undefined;

  // Accepted, but said out loud: a simulation that cannot mean what the user likely wanted.
  if (mode !== 'plan' && add.length === 0 && remove.length === 0) {
    io.stderr('ringkv simulate: warning: nothing changes (no --add, --add-node or --remove): every figure below describes the current placement only\n');
  }
  const after = members.filter((m) => !remove.includes(m)).length + add.length;
  if (n > Math.min(members.length, after) && (str('compare') !== undefined || (str('strategy') ?? config?.strategy) === 'ring')) {
    io.stderr(
      `ringkv ${mode}: warning: N = ${n} replicas but the cluster has ${members.length} member(s) before and ${after} after the change: a bucket cannot have more distinct replicas than members\n`,
    );
  }

  const range = (p: RangePolicy): StrategySpec => ({ kind: 'range', policy: p, initial, ...(configTable ? { table: configTable } : {}) });
  const ring = (v: number): StrategySpec => ({ kind: 'ring', vnodes: v, n, ...(weights && Object.keys(weights).length ? { weights } : {}) });

  let strategies: StrategySpec[];
  if (str('compare') !== undefined) {
    if (mode === 'plan') throw new UsageError('plan shows one strategy: the config\'s, or --strategy; use `ringkv simulate --compare` to compare');
    if (str('strategy') !== undefined) throw new UsageError('give either --strategy or --compare, not both');
    strategies = splitList(str('compare')!, '--compare').map((item) => {
      const [kind, arg] = item.split(/:(.*)/s) as [string, string | undefined];
      if (kind === 'range') return range(arg === undefined ? policy : parsePolicy(arg, io));
      if (kind === 'ring') return ring(arg === undefined ? vnodes : int(arg, `--compare ${item} (virtual nodes)`, 1, 100_000));
      throw new UsageError(`--compare: unknown strategy ${JSON.stringify(kind)} (expected range, range:<policy>, ring or ring:<vnodes>)`);
    });
  } else {
    const kind = str('strategy') ?? config?.strategy ?? 'range';
    if (kind === 'range') strategies = [range(policy)];
    else if (kind === 'ring') strategies = [ring(vnodes)];
    else throw new UsageError(`--strategy must be range or ring, got ${JSON.stringify(kind)}`);
  }

  const sources = ['buckets', 'names-file', 'from-cluster'].filter((k) => values[k] !== undefined);
  if (sources.length > 1) throw new UsageError(`give one source of bucket names, not ${sources.map((s) => `--${s}`).join(' and ')}`);
  let source: BucketSourceSpec;
  if (values['from-cluster']) {
    const natsUrl = str('nats') ?? config?.nats.url;
    if (natsUrl === undefined) throw new UsageError('--from-cluster needs --nats <url> or --config <file> to reach the cluster');
    const timeoutMs = str('timeout-ms') !== undefined ? int(str('timeout-ms')!, '--timeout-ms', 1, 600_000) : DEFAULT_CLUSTER_TIMEOUT_MS;
    // The config's credentials go along unless --nats names another server.
    source = { kind: 'cluster', natsUrl, timeoutMs, ...(config && str('nats') === undefined ? { security: natsConnectOptions(config) } : {}) };
  } else if (str('names-file') !== undefined) {
    source = { kind: 'file', path: resolve(io.cwd, str('names-file')!) };
  } else {
    const charset = str('charset') ?? 'bytes';
    if (charset !== 'bytes' && charset !== 'alnum') throw new UsageError(`--charset must be bytes or alnum, got ${JSON.stringify(charset)}`);
    source = {
      kind: 'random',
      count: str('buckets') !== undefined ? int(str('buckets')!, '--buckets', 0, MAX_BUCKETS) : DEFAULT_BUCKETS,
      seed: str('seed') !== undefined ? int(str('seed')!, '--seed', 0, 2 ** 32 - 1) : 1,
      charset,
    };
  }

  return {
    change: { members, add, remove },
    strategies,
    source,
    json: values.json === true,
    listBuckets: values['list-buckets'] === true,
    svg: str('svg') !== undefined ? resolve(io.cwd, str('svg')!) : undefined,
    top: str('top') !== undefined ? int(str('top')!, '--top', 0, 1_000_000) : 10,
    limit: str('limit') !== undefined ? int(str('limit')!, '--limit', 0, 1_000_000) : 20,
    config,
  };
}

/** Members of the cluster a config describes: the ring's, or every node its table names. */
export function configMembers(config: RingkvConfig): string[] {
  if (config.strategy === 'ring') return [...config.ring.members];
  const out: string[] = [];
  for (const e of config.routingTable) if (!out.includes(e.node)) out.push(e.node);
  if (config.node !== undefined && !out.includes(config.node)) out.push(config.node);
  return out;
}

export function parsePolicy(text: string, io: Pick<CommandIO, 'cwd'>): RangePolicy {
  if (text === 'even' || text === 'balanced' || text === 'split-loaded' || text === 'bytes') return { name: text };
  if (text.startsWith('file:')) return { name: 'table', table: readTableFile(resolve(io.cwd, text.slice(5))) };
  throw new UsageError(`--policy must be even, balanced, split-loaded, bytes or file:<path>, got ${JSON.stringify(text)}`);
}

/** A target table file: a JSON array of {from, to, node}, or a config object with `routingTable`. */
export function readTableFile(path: string): RangeEntryInput[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--policy file:${path}: ${(err as Error).message}`);
  }
  const table = Array.isArray(raw) ? raw : (raw as { routingTable?: unknown } | null)?.routingTable;
  if (!Array.isArray(table)) throw new UsageError(`--policy file:${path}: expected a JSON array of {from, to, node} or an object with "routingTable"`);
  return table as RangeEntryInput[];
}

function splitList(text: string, flag: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`${flag}: give a comma-separated list`);
  return items;
}

function int(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(text)}`);
  const v = Number(text);
  if (v < min || v > max) throw new UsageError(`${flag} must be from ${min} to ${max}, got ${v}`);
  return v;
}
