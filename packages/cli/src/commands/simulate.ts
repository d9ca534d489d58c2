/**
 * `ringkv simulate`: what would move if nodes joined or left, for a strategy (or several side
 * by side), over random names, a file of names, or what a running cluster stores.
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_RING_N, DEFAULT_RING_VNODES, type BucketName } from '@ringkv/core';
import { simulate, type BucketInput, type SimulationReport } from '@ringkv/sim';
import type { Command, CommandIO } from '../command.js';
import { loadBuckets, type LoadedBuckets } from '../simulate-input.js';
import { parseSimulateArgs, type SimulateArgs } from '../simulate-options.js';
import { progressLine, renderReport, toJson } from '../simulate-render.js';
import { renderSvg } from '../simulate-svg.js';

/** Inputs at least this large get a progress bar (when stderr is a terminal). */
export const PROGRESS_THRESHOLD = 200_000;

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'simulate adding or removing nodes: what moves, how even the load is after',
  help: `Usage: ringkv simulate [options]

Simulates a membership change and reports, per strategy: the buckets whose owner changes
(count, fraction, ratio to the ideal k/(n+k)), for the ring the buckets whose replica set
changes (ideal min(1, N/(n+1)) for one new node), per-node load before and after
(max/mean, coefficient of variation) and the transfers (from -> to).

Bucket names (one of):
  --buckets N            N seeded random names (default 100000)
      --seed S           seed (default 1)
      --charset C        bytes (any byte; default) or alnum (a-z0-9, identifier-like)
  --names-file FILE      one name a line (raw bytes; CR before LF dropped; empty lines skipped)
  --from-cluster         the buckets a running cluster stores, with their sizes: every member
                         is asked over NATS (needs --nats URL or --config FILE)
      --timeout-ms MS    per-node wait (default 5000)

Cluster and change:
  --nodes N              members node1@sim..nodeN@sim (default 3)
  --members a@h,b@h      members by name (default with --config: the config's)
  --config FILE          a node config: members, strategy, table, ring settings, NATS URL
  --add K                add K nodes (named after the members)
  --add-node NAME        add this node (repeatable)
  --remove NAME          remove this node (repeatable)

Strategies:
  --strategy range|ring  one strategy (default: the config's, else range)
  --compare LIST         several side by side: range, range:<policy>, ring, ring:<vnodes>
  --policy P             range table after the change: even (re-split 0..255 evenly),
                         balanced (cut where buckets split evenly), split-loaded (split the
                         busiest range at its median first byte), bytes (split-loaded by
                         bytes; leavers' ranges to the lighter neighbour), file:<path> (JSON table)
  --initial even|balanced  starting table when the config gives none (default even)
  --vnodes V             ring virtual nodes per member (default: config, else ${DEFAULT_RING_VNODES})
  --n N                  ring replicas per bucket (default: config, else ${DEFAULT_RING_N})

Output:
  --json                 the full report as JSON on stdout
  --svg FILE             also write an SVG chart (load before/after, moved vs ideal)
  --top K                transfers listed per strategy (default 10)
  --list-buckets         with --json: every bucket name and size too (bucketList)

A progress bar goes to stderr for large inputs when stderr is a terminal.

Examples:
  ringkv simulate --compare range,ring --nodes 5 --add 1 --buckets 100000
  ringkv simulate --compare range:even,range:split-loaded,ring,ring:64 --names-file /usr/share/dict/words --nodes 3 --add 1 --svg plan.svg
  ringkv simulate --from-cluster --config config/foo.json --add-node baz@computer-name --json
`,
  async run(argv, io) {
    const args = parseSimulateArgs(argv, io, 'simulate');
    const { report, buckets } = await runSimulation(args, io);
    if (args.svg) writeFileSync(args.svg, renderSvg(report));
    if (args.json) {
      const list = args.listBuckets ? { bucketList: Array.from(buckets.iterate(), listed) } : {};
      io.stdout(toJson({ source: buckets.description, ...(buckets.perNode ? { cluster: buckets.perNode } : {}), ...report, ...list }));
    } else {
      io.stdout(`${renderReport(report, { source: buckets.description, top: args.top })}${args.svg ? `\nChart written to ${args.svg}\n` : ''}`);
    }
    return 0;
  },
};

function listed(b: BucketInput): { bucket: BucketName; bytes: number | null } {
  return typeof b === 'string' || b instanceof Uint8Array ? { bucket: b, bytes: null } : { bucket: b.name, bytes: b.bytes ?? null };
}

/** Loads the names and runs the simulation, drawing progress when it is worth it. */
export async function runSimulation(args: SimulateArgs, io: CommandIO): Promise<{ report: SimulationReport; buckets: LoadedBuckets }> {
  const buckets = await loadBuckets(args.source, args.change.members);
  const showProgress = buckets.count >= PROGRESS_THRESHOLD && process.stderr.isTTY === true && io.env.RINGKV_NO_PROGRESS === undefined;
  const report = simulate({
    change: args.change,
    strategies: args.strategies,
    buckets: buckets.iterate(),
    ...(showProgress ? { onProgress: (done: number) => io.stderr(progressLine(done, buckets.count)) } : {}),
  });
  if (showProgress) io.stderr('\n');
  return { report, buckets };
}
