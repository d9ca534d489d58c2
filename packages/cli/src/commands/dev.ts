/**
 * `ringkv dev`: the embedded default. Starts the guide's foo/bar pair in this process over the
 * in-process transport and shows routing at work.
 */
import { startLocalCluster, renderBucket, type RingkvConfig } from '@ringkv/core';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';

const FOO: RingkvConfig['routingTable'] = [
  { from: 97, to: 109, node: 'foo@computer-name' },
  { from: 110, to: 122, node: 'bar@computer-name' },
];
const BAR: RingkvConfig['routingTable'] = [{ from: 97, to: 122, node: 'bar@computer-name' }];

export const devCommand: Command = {
  name: 'dev',
  summary: 'start a local cluster (the guide\'s foo and bar) in this process',
  help: `Usage: ringkv dev [--once]

Starts the guide's two nodes, foo@computer-name (a..m -> foo, n..z -> bar) and
bar@computer-name (a..z -> bar), in this process, routes a few buckets through foo
and prints where each call ran. Runs until Ctrl-C unless --once is given.

Example:
  ringkv dev --once
`,
  async run(argv, io) {
    let values;
    try {
      ({ values } = parseArgs({ args: argv, options: { once: { type: 'boolean' } }, allowPositionals: false }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const cluster = await startLocalCluster([
      { name: 'foo@computer-name', routingTable: FOO },
      { name: 'bar@computer-name', routingTable: BAR },
    ]);
    const foo = cluster.node('foo@computer-name');
    io.stdout('ringkv dev: nodes foo@computer-name and bar@computer-name running in-process (transport: in-process)\n');
    for (const bucket of ['hello', 'world', '\u0000']) {
      try {
        const where = await foo.route(bucket, 'Kernel', 'node', []);
        io.stdout(`  route(${renderBucket(bucket)}, Kernel, node, []) via foo -> ${JSON.stringify(where)}\n`);
      } catch (err) {
        io.stdout(`  route(${renderBucket(bucket)}, Kernel, node, []) via foo -> ${(err as Error).name}: ${(err as Error).message}\n`);
      }
    }
    if (values.once) {
      await cluster.stop();
      return 0;
    }
    io.stdout('Press Ctrl-C to stop.\n');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await cluster.stop();
    return 0;
  },
};
