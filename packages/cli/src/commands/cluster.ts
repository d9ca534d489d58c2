/**
 * `ringkv cluster ...`: membership of a managed cluster, from any machine that reaches its NATS
 * (`--nats URL`, else NATS_URL, else nats://127.0.0.1:4222). Riak's model: stage changes
 * (join, leave, replace), look at the plan, commit it; then watch `status` until settled.
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_CLUSTER_STATE_BUCKET,
  DEFAULT_NATS_URL,
  natsEnvOverrides,
  parseConfig,
  renderTable,
  type ClusterStateStore,
  type NatsSecurityOptions,
  type Transport,
} from '@ringkv/core';
import { connectClusterStateKv, connectNatsTransport } from '@ringkv/nats';
import type { RangePolicy } from '@ringkv/sim';
import {
  clearStaged,
  clusterStatus,
  commitPlan,
  controlTransfers,
  planStaged,
  setTransferLimit,
  stage,
  type ClusterPlan,
  type ClusterStatus,
  type MemberStatus,
  type TransferStatus,
} from '../cluster-admin.js';
import { UsageError, type Command, type CommandIO } from '../command.js';
import { parsePolicy } from '../simulate-options.js';
import { NATS_FLAGS, NATS_FLAGS_HELP, natsConnectOptions, natsOverrides } from '../nats-flags.js';

const COMMON = `Common options:
  --bucket NAME   the JetStream KV bucket of the cluster state (default ${DEFAULT_CLUSTER_STATE_BUCKET})
  --timeout MS    how long a node may take to say what it holds (default 2000)

${NATS_FLAGS_HELP.replace('--nats <url>                   server URL(s), comma-separated for a cluster;', `--nats <url>                   the cluster's NATS (default NATS_URL, else ${DEFAULT_NATS_URL});`).replace("(each overrides the config's \"nats\" section and NATS_* variables)", '(each overrides the NATS_* environment variables)')}
On a NATS server with permissions, use a member's credentials or an operator user that may
publish to $JS.API.>, $KV.<bucket>.> and ringkv.node.> (docs/security.md).`;

interface Parsed {
  positionals: string[];
  json: boolean;
  watch: boolean;
  intervalMs: number;
  /** Where NATS is and how to authenticate: the NATS_* environment, then the flags. */
  nats: { url: string } & NatsSecurityOptions;
  bucket: string;
  timeoutMs: number;
  node?: string;
  policy?: RangePolicy;
}

function parse(argv: readonly string[], io: CommandIO, positionals: number | [number, number]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: 'boolean' },
        watch: { type: 'boolean' },
        interval: { type: 'string' },
        ...NATS_FLAGS,
        bucket: { type: 'string' },
        timeout: { type: 'string' },
        node: { type: 'string' },
        policy: { type: 'string' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [min, max] = typeof positionals === 'number' ? [positionals, positionals] : positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw new UsageError(
      min === max
        ? `expected ${min} argument${min === 1 ? '' : 's'}, got ${parsed.positionals.length}`
        : `expected ${min} to ${max} arguments, got ${parsed.positionals.length}`,
    );
  }
  const t = parsed.values.timeout;
  if (t !== undefined && (!/^\d+$/.test(t) || Number(t) <= 0))
    throw new UsageError(`--timeout must be a positive integer of ms, got ${JSON.stringify(t)}`);
  const iv = parsed.values.interval;
  if (iv !== undefined && (!/^\d+$/.test(iv) || Number(iv) < 100))
    throw new UsageError(`--interval must be an integer of ms, at least 100, got ${JSON.stringify(iv)}`);
  return {
    positionals: parsed.positionals,
    json: parsed.values.json === true,
    watch: parsed.values.watch === true,
    intervalMs: iv ? Number(iv) : 1000,
    nats: natsConnection(io.env, natsOverrides(parsed.values)),
    bucket: parsed.values.bucket ?? DEFAULT_CLUSTER_STATE_BUCKET,
    timeoutMs: t ? Number(t) : 2000,
    ...(parsed.values.node ? { node: parsed.values.node } : {}),
    ...(parsed.values.policy !== undefined ? { policy: parsePolicy(parsed.values.policy, io) } : {}),
  };
}

/** The NATS_* environment under the flags, validated and with URL credentials moved out, as a node's `nats` section is. */
function natsConnection(env: Record<string, string | undefined>, flags: Record<string, unknown> | undefined): Parsed['nats'] {
  const fromEnv = natsEnvOverrides(env) ?? {};
  const merged: Record<string, unknown> = { ...fromEnv, ...flags };
  if (fromEnv.tls !== undefined || flags?.tls !== undefined) merged.tls = { ...(fromEnv.tls as object), ...(flags?.tls as object) };
  return natsConnectOptions(parseConfig({ nats: merged }, 'the NATS options'));
}

async function withCluster<T>(args: Parsed, fn: (store: ClusterStateStore, transport: () => Promise<Transport>) => Promise<T>): Promise<T> {
  const store = await connectClusterStateKv({ ...args.nats, bucket: args.bucket, name: 'ringkv cluster' });
  let transport: Transport | undefined;
  try {
    return await fn(store, async () => (transport ??= await connectNatsTransport({ ...args.nats, name: 'ringkv cluster' })));
  } finally {
    await transport?.close();
    await store.close();
  }
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function bar(done: number, planned: number, width = 20): string {
  const f = planned > 0 ? Math.min(1, done / planned) : 1;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

export function renderStatus(s: ClusterStatus): string {
  const lines = [`epoch ${s.epoch} (${s.strategy})${s.settled ? ', settled' : ''}${s.paused ? ', transfers paused' : ''}`];
  if (s.table) lines.push(`table: ${renderTable(s.table)}`);
  if (s.transition) {
    lines.push(
      `transition ${s.transition.id}: phase ${s.transition.phase}, ${s.transition.from.length} -> ${s.transition.to.length} members`,
    );
    lines.push(`  waiting for: ${s.transition.waitingFor.length ? s.transition.waitingFor.join(', ') : '(nobody: next phase soon)'}`);
  }
  if (s.staged.length)
    lines.push(
      `staged: ${s.staged.map((c) => (c.action === 'replace' ? `replace ${c.node} by ${c.by}` : `${c.action} ${c.node}`)).join('; ')} (run \`ringkv cluster plan\`)`,
    );
  lines.push('', 'members:');
  const w = Math.max(4, ...s.members.map((m) => m.node.length));
  for (const m of s.members) {
    lines.push(
      `  ${m.node.padEnd(w)}  ${m.state.padEnd(10)}  epoch ${String(m.epoch ?? '-').padStart(3)}  ${String(m.buckets).padStart(6)} buckets  ${String(m.keys).padStart(8)} keys  ${human(m.bytes).padStart(10)}${aaeColumn(m.antiEntropy)}`,
    );
  }
  if (s.transfers.length) {
    lines.push('', 'transfers:');
    for (const t of s.transfers) lines.push(`  ${renderTransfer(t)}`);
  }
  if (s.warnings.length) lines.push('', 'warnings:', ...s.warnings.map((x) => `  ! ${x}`));
  return `${lines.join('\n')}\n`;
}

function renderTransfer(t: TransferStatus): string {
  const rate = t.rate !== null ? `${human(Math.round(t.rate))}/s` : '-';
  const eta = t.eta !== null ? `eta ${Math.ceil(t.eta)} s` : 'eta -';
  return `${t.id.padEnd(4)} ${t.from} -> ${t.to}  ${t.status.padEnd(9)} ${bar(t.doneBytes, t.plannedBytes)}  ${t.doneBuckets}/${t.plannedBuckets} buckets, ${human(t.doneBytes)}/${human(t.plannedBytes)}  ${rate}  ${eta}`;
}

export function renderPlan(p: ClusterPlan): string {
  const lines = [
    `plan for epoch ${p.epoch}: ${p.changes.map((c) => (c.action === 'replace' ? `replace ${c.node} by ${c.by}` : `${c.action} ${c.node}`)).join('; ')}`,
    `members: ${p.membersBefore.length} -> ${p.membersAfter.length} (${p.membersAfter.join(', ')})`,
    `data: ${p.buckets} buckets, ${human(p.bytes)} (as the members report it)`,
    '',
    p.to.strategy === 'ring' ? 'moves (replica copies, source -> destination):' : 'moves (whole buckets, source -> destination):',
  ];
  if (p.moves.length === 0) lines.push('  (nothing moves)');
  for (const m of p.moves) lines.push(`  ${m.from} -> ${m.to}: ${m.buckets} buckets, ${human(m.bytes)}`);
  lines.push(`moved between two nodes that both stay: ${p.betweenStaying}`);
  if (p.to.strategy === 'range') lines.push(`range table after: ${renderTable(p.to.table)}`);
  lines.push('', `load (bytes): before max/mean ${p.load.before.maxOverMean.toFixed(2)}, after ${p.load.after.maxOverMean.toFixed(2)}`);
  for (const l of p.load.perNode.after) lines.push(`  ${l.node}: ${l.buckets} buckets, ${human(l.bytes)}`);
  if (p.warnings.length) lines.push('', 'warnings:', ...p.warnings.map((w) => `  ! ${w}`));
  lines.push('', 'Run `ringkv cluster commit` to apply it (only if the cluster has not changed meanwhile).');
  return `${lines.join('\n')}\n`;
}

const EXAMPLES: Record<string, string> = {
  join: 'ringkv cluster join d@host4 --nats nats://10.0.0.5:4222',
  leave: 'ringkv cluster leave b@host2',
  replace: 'ringkv cluster replace c@host3 e@host5',
  plan: 'ringkv cluster plan --json',
  commit: 'ringkv cluster commit',
  clear: 'ringkv cluster clear',
  transfers: 'ringkv cluster transfers cancel t2',
};

function command(name: string, summary: string, usage: string, run: Command['run']): Command {
  const example = /Example/.test(usage) ? '' : `\n\nExample:\n  ${EXAMPLES[name] ?? `ringkv cluster ${name}`}`;
  return { name: `cluster ${name}`, summary, help: `${usage}${example}\n\n${COMMON}\n`, run };
}

/** `anti-entropy synced` once the node met every live peer since it started (safe to restart the next one). */
function aaeColumn(a: MemberStatus['antiEntropy']): string {
  if (a === undefined || a === null) return '';
  return `  anti-entropy ${a.synced ? 'synced' : 'syncing'} (${a.repairs} repaired)`;
}

export const clusterCommands: readonly Command[] = [
  command(
    'status',
    'the cluster: epoch, members and what they hold, the transition, transfers, settled',
    `Usage: ringkv cluster status [--json] [--watch [--interval MS]]

Members with their state (valid, joining, leaving, down, not-member), the epoch each acknowledged,
and the buckets, keys and bytes each holds now, and its anti-entropy (synced once it exchanged with
every live peer since it started: what a rolling restart waits for); the transition in progress
(phase, who it waits for); each transfer's progress against the plan, rate and ETA; warnings (members down, nodes whose
config disagrees with the cluster). --json prints it as JSON (fields: epoch, members, transfers,
settled, ...). Answers with a member down, naming it. --watch shows it again every --interval ms
(default 1000; redrawn in place on a terminal, one JSON line per sample with --json) until the
cluster is settled, then exits 0.

Example:
  ringkv cluster status --nats nats://10.0.0.5:4222`,
    async (argv, io) => {
      const args = parse(argv, io, 0);
      return withCluster(args, async (store, transport) => {
        if (!args.watch) {
          const s = await clusterStatus(store, await transport(), { timeoutMs: args.timeoutMs });
          io.stdout(args.json ? json(s) : renderStatus(s));
          return 0;
        }
        // A live view: until settled (Ctrl-C stops it earlier). A sample that fails (NATS away)
        // is said and the next one tried.
        for (;;) {
          const started = Date.now();
          let s: ClusterStatus | undefined;
          try {
            s = await clusterStatus(store, await transport(), { timeoutMs: args.timeoutMs });
          } catch (err) {
            io.stderr(`status not read: ${(err as Error).message}; trying again\n`);
          }
          if (s) {
            if (args.json) io.stdout(`${JSON.stringify(s)}\n`);
            else if (io.interactive)
              io.stdout(`\x1b[H\x1b[2J${new Date().toISOString()}  (ringkv cluster status --watch)\n${renderStatus(s)}`);
            else io.stdout(`--- ${new Date().toISOString()}\n${renderStatus(s)}`);
            if (s.settled) return 0;
          }
          await new Promise((r) => setTimeout(r, Math.max(0, args.intervalMs - (Date.now() - started))));
        }
      });
    },
  ),
  command(
    'join',
    'stage a node joining the cluster',
    'Usage: ringkv cluster join <node>\n\nStages it; nothing moves until `ringkv cluster plan` and `commit`.',
    async (argv, io) => {
      const args = parse(argv, io, 1);
      return withCluster(args, async (store) => {
        const s = await stage(store, { action: 'join', node: args.positionals[0]! });
        io.stdout(
          `staged: join ${args.positionals[0]} (${s.staged.length} change${s.staged.length === 1 ? '' : 's'} staged); next: ringkv cluster plan\n`,
        );
        return 0;
      });
    },
  ),
  command(
    'leave',
    'stage a member leaving the cluster',
    'Usage: ringkv cluster leave <node>\n\nStages it; its data moves to the others after `plan` and `commit`.',
    async (argv, io) => {
      const args = parse(argv, io, 1);
      return withCluster(args, async (store) => {
        const s = await stage(store, { action: 'leave', node: args.positionals[0]! });
        io.stdout(
          `staged: leave ${args.positionals[0]} (${s.staged.length} change${s.staged.length === 1 ? '' : 's'} staged); next: ringkv cluster plan\n`,
        );
        return 0;
      });
    },
  ),
  command('replace', 'stage replacing a member by a new node', 'Usage: ringkv cluster replace <old> <new>', async (argv, io) => {
    const args = parse(argv, io, 2);
    return withCluster(args, async (store) => {
      await stage(store, { action: 'replace', node: args.positionals[0]!, by: args.positionals[1]! });
      io.stdout(`staged: replace ${args.positionals[0]} by ${args.positionals[1]}; next: ringkv cluster plan\n`);
      return 0;
    });
  }),
  command(
    'plan',
    'what the staged changes would move, on the real data (nothing moves yet)',
    `Usage: ringkv cluster plan [--json] [--policy bytes|split-loaded|balanced|even|file:<path>]

Runs the migration simulation (@ringkv/sim) on the buckets and sizes the members really hold:
per source -> destination the buckets and bytes that will move, the load before and after
(max/mean), and warnings (a node left with nothing, a node over 1.5x the mean, replicas not on
distinct nodes, a member down). The plan is saved; \`ringkv cluster commit\` applies it.

A range-table cluster also gets its next table from --policy (default bytes: the range holding
the most bytes is split at its byte median for each joining node, and a leaving node's ranges
go to its lighter neighbour, so nothing moves between nodes that stay; see \`ringkv simulate --help\`).`,
    async (argv, io) => {
      const args = parse(argv, io, 0);
      return withCluster(args, async (store, transport) => {
        const p = await planStaged(store, await transport(), { timeoutMs: args.timeoutMs, ...(args.policy ? { policy: args.policy } : {}) });
        io.stdout(args.json ? json(p) : renderPlan(p));
        return 0;
      });
    },
  ),
  command(
    'commit',
    'apply the saved plan (only if the cluster did not change since)',
    'Usage: ringkv cluster commit\n\nA compare-and-set on the state the plan was computed from; if anything changed, plan again.',
    async (argv, io) => {
      const args = parse(argv, io, 0);
      return withCluster(args, async (store) => {
        const s = await commitPlan(store);
        io.stdout(
          `committed: epoch ${s.epoch}, transition ${s.transition!.id} (${s.transition!.from.members.length} -> ${s.transition!.to.members.length} members); watch it with: ringkv cluster status\n`,
        );
        return 0;
      });
    },
  ),
  command('clear', 'forget the staged changes', 'Usage: ringkv cluster clear', async (argv, io) => {
    const args = parse(argv, io, 0);
    return withCluster(args, async (store) => {
      await clearStaged(store);
      io.stdout('staged changes cleared\n');
      return 0;
    });
  }),
  command(
    'transfers',
    'list transfers; pause, resume or cancel them; set the transfer limit',
    `Usage: ringkv cluster transfers [--json]
       ringkv cluster transfers pause [<id>]
       ringkv cluster transfers resume [<id>]
       ringkv cluster transfers cancel <id>
       ringkv cluster transfers limit <n> [--node NAME]

Without an id, pause and resume act on every transfer. A paused or cancelled transfer keeps its
cursor and continues from it when resumed (the transition waits for it). The limit is how many
transfers each node runs at once receiving and sending (default 2 each), for every node or one.`,
    async (argv, io) => {
      const args = parse(argv, io, [0, 2]);
      const [action, arg] = args.positionals;
      return withCluster(args, async (store, transport) => {
        if (action === undefined) {
          const s = await clusterStatus(store, await transport(), { timeoutMs: args.timeoutMs });
          io.stdout(
            args.json
              ? json({ epoch: s.epoch, limits: s.limits, paused: s.paused, transfers: s.transfers })
              : s.transfers.length
                ? `${s.transfers.map(renderTransfer).join('\n')}\n`
                : 'no transfers\n',
          );
          return 0;
        }
        if (action === 'pause' || action === 'resume' || action === 'cancel') {
          const doc = await controlTransfers(store, action, arg);
          io.stdout(`${action}${arg ? ` ${arg}` : ' all'}: ${doc.items.map((i) => `${i.id} ${i.status}`).join(', ')}\n`);
          return 0;
        }
        if (action === 'limit') {
          if (arg === undefined || !/^\d+$/.test(arg)) throw new UsageError('limit needs a number of transfers');
          const s = await setTransferLimit(store, Number(arg), args.node);
          io.stdout(`transfer limit: ${args.node ? `${args.node} ${arg}` : `${s.limits.in} in, ${s.limits.out} out per node`}\n`);
          return 0;
        }
        throw new UsageError(`unknown transfers action ${JSON.stringify(action)} (pause, resume, cancel, limit)`);
      });
    },
  ),
];
