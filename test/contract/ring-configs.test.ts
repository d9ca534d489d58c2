/**
 * The example cluster of config/ring/{a,b,c}.json runs the contract suite over NATS as it is,
 * and again with nothing changed but `"strategy": "range"`: the strategy is one line of config.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRangeStrategy, parseConfig, type Strategy } from '@ringkv/core';
import { createRingStrategy } from '@ringkv/ring';
import { describeDistributed } from '@ringkv/test-utils';
import { natsFactory } from './nats.js';
import { contractSuite } from './suite.js';

const FILES = { 'a@ringkv': 'a.json', 'b@ringkv': 'b.json', 'c@ringkv': 'c.json' } as const;
const NODES = Object.keys(FILES) as (keyof typeof FILES)[];

function exampleConfig(node: string, strategy: 'ring' | 'range'): Record<string, unknown> {
  const file = fileURLToPath(new URL(`../../config/ring/${FILES[node as keyof typeof FILES]}`, import.meta.url));
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return { ...raw, strategy };
}

function viewOf(strategy: 'ring' | 'range'): Strategy {
  const config = parseConfig(exampleConfig('a@ringkv', strategy));
  return config.strategy === 'ring' ? createRingStrategy(config.ring) : createRangeStrategy(config.routingTable);
}

for (const strategy of ['ring', 'range'] as const) {
  describeDistributed(`config/ring/*.json with "strategy": "${strategy}" x NATS`, () =>
    contractSuite(
      natsFactory({
        name: `config/ring (${strategy}) x NATS`,
        strategy,
        nodes: NODES,
        config: (node) => exampleConfig(node, strategy),
        view: () => viewOf(strategy),
      }),
    ),
  );
}
