import { createRingStrategy } from '@ringkv/ring';
import { contractSuite } from './suite.js';
import { inProcessFactory } from './in-process.js';
import { CONTRACT_NODES } from './factory.js';

contractSuite(
  inProcessFactory('ring x in-process', 'ring', () => createRingStrategy({ members: [...CONTRACT_NODES], n: 3 })),
);
