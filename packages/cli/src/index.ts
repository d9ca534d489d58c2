/**
 * `ringkv`: the command-line entry, importable for tests and embedding.
 *
 * @example
 * import { main } from 'ringkv';
 * process.exitCode = await main(['--help']);
 */
export { main, usage, COMMANDS, defaultIO } from './main.js';
export type { Command, CommandIO } from './command.js';
export { UsageError } from './command.js';
export { askHoldings, clusterStatus, planStaged, commitPlan, stage, clearStaged, controlTransfers, setTransferLimit, type ClusterStatus, type ClusterPlan, type MemberStatus, type TransferStatus } from './cluster-admin.js';
export { startNodeFromConfig, type RunningNode, type StartNodeOptions } from './node-runtime.js';
