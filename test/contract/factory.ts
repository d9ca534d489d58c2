import type { BucketName, RouteOptions } from '@ringkv/core';

/** A running cluster the contract suite talks to, whatever its strategy and transport. */
export interface ContractCluster {
  /** Every node, each running the functions of fixtures/contract-modules.js. */
  readonly nodes: readonly string[];
  /** route(bucket, mod, fun, args) entered at node `via`. */
  route(via: string, bucket: BucketName, mod: string, fun: string, args: readonly unknown[], options?: RouteOptions): Promise<unknown>;
  /** The node the strategy says runs a plain call for `bucket`. */
  owner(bucket: BucketName): string;
  teardown(): Promise<void>;
}

export interface ContractFactory {
  /** e.g. "range x in-process" */
  readonly name: string;
  /** `range` or `ring`: strategy-specific expectations hang on it. */
  readonly strategy: string;
  setup(): Promise<ContractCluster>;
}

/** The three nodes every contract cluster has. */
export const CONTRACT_NODES = ['a@ringkv', 'b@ringkv', 'c@ringkv'] as const;

/** The range table every node of a range contract cluster shares: the byte space in thirds. */
export const CONTRACT_TABLE = [
  { from: 0, to: 85, node: 'a@ringkv' },
  { from: 86, to: 170, node: 'b@ringkv' },
  { from: 171, to: 255, node: 'c@ringkv' },
];
