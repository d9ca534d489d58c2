import { createRingStrategy } from '@ringkv/ring';
import { describeDistributed } from '@ringkv/test-utils';
import { CONTRACT_NODES } from './factory.js';
import { natsFactory } from './nats.js';
import { contractSuite } from './suite.js';

const ring = { members: [...CONTRACT_NODES], n: 3 };

describeDistributed('ring x NATS (real node processes)', () =>
  contractSuite(
    natsFactory({
      name: 'ring x NATS',
      strategy: 'ring',
      config: { strategy: 'ring', ring },
      view: () => createRingStrategy(ring),
    }),
  ),
);
