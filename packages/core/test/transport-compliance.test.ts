import { createInProcessNetwork } from '@ringkv/core';
import { transportCompliance } from '@ringkv/test-utils';

transportCompliance({
  name: 'in-process',
  async setup() {
    const network = createInProcessNetwork();
    return { connect: async () => network.transport(), teardown: async () => {} };
  },
});
