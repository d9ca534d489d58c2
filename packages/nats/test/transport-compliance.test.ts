import { connectNatsTransport } from '@ringkv/nats';
import { describeDistributed, startNatsServer, transportCompliance, type NatsServer } from '@ringkv/test-utils';
import { afterAll, beforeAll } from 'vitest';

describeDistributed('NATS transport', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(() => nats?.stop());

  let clients = 0;
  transportCompliance({
    name: 'NATS',
    async setup() {
      return { connect: () => connectNatsTransport({ url: nats.url, name: `compliance ${++clients}` }), teardown: async () => {} };
    },
  });
});
