import { describeDistributed } from '@ringkv/test-utils';
import { contractSuite } from './suite.js';
import { rangeNats } from './nats.js';

describeDistributed('range x NATS (real node processes)', () => contractSuite(rangeNats));
