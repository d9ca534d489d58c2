import { contractSuite } from './suite.js';
import { rangeInProcess } from './in-process.js';

contractSuite(rangeInProcess);
