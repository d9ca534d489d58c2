/**
 * `ringkv plan`: the simulation applied to one concrete change of the cluster a config file
 * describes, printed in the spirit of Riak's `cluster plan`. It only shows the plan.
 */
import { ownerChanges } from '@ringkv/sim';
import type { Command } from '../command.js';
import { parseSimulateArgs } from '../simulate-options.js';
import { renderPlan, toJson } from '../simulate-render.js';
import { runSimulation } from './simulate.js';

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what a membership change to a running cluster would move (nothing is moved)',
  help: `Usage: ringkv plan --config FILE (--add-node NAME | --add K | --remove NAME)... [options]

Computes, for the cluster described by the config file (its strategy, members, range table or
ring settings), what the change would move: owner changes against the ideal, replica-set
changes (ring), per-node load before and after, the transfers from -> to, and the first
buckets that would change owner. It only shows the plan; on a managed cluster,
\`ringkv cluster join/leave/replace\`, \`cluster plan\` and \`cluster commit\` carry one out
(docs/operations.md).

Bucket names: --from-cluster (ask every member over NATS, using the config's nats.url or
--nats URL; the real names and sizes), --names-file FILE, or --buckets N (random, the default).

Options (see \`ringkv simulate --help\` for all of them):
  --policy even|balanced|split-loaded|bytes|file:<path>   range table after the change (default even)
  --vnodes V, --n N      ring settings (default: the config's)
  --limit K              buckets listed (default 20)
  --top K                transfers listed (default 10)
  --json                 the plan as JSON (report, strategy result, listed buckets)

Examples:
  ringkv plan --config config/foo.json --add-node baz@computer-name --policy split-loaded --from-cluster
  ringkv plan --config ring.json --add-node d@host --buckets 100000 --json
`,
  async run(argv, io) {
    const args = parseSimulateArgs(argv, io, 'plan');
    const { report, buckets } = await runSimulation(args, io);
    const result = report.results[0]!;
    const moved = args.limit > 0 ? ownerChanges(report, result, buckets.iterate(), args.limit) : [];
    if (args.json) {
      io.stdout(toJson({ source: buckets.description, ...(buckets.perNode ? { cluster: buckets.perNode } : {}), members: report.members, buckets: report.buckets, bytes: report.bytes, plan: result, moved }));
    } else {
      io.stdout(renderPlan(report, result, moved, { source: buckets.description, top: args.top, limit: args.limit }));
    }
    return 0;
  },
};
