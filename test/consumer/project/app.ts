/**
 * A consumer's program: what someone writes after `npm install`ing the ringkv packages. The
 * consumer test copies this file into a fresh project outside the repo, type-checks it with
 * `tsc --noEmit` under `strict`, and runs it with plain `node`. It prints one JSON line.
 *
 * Only public entry points are imported, the way users would; nothing here may reach into dist/.
 */
import { connect } from 'node:net';
import {
  createModuleRegistry,
  NoEntryError,
  startLocalCluster,
  type RingkvNode,
  type Transport,
} from '@ringkv/core';
import { connectNatsTransport, subjectForNode, type NatsTransportOptions } from '@ringkv/nats';
import { createRing, type Ring } from '@ringkv/ring';
import { startServer, type RunningServer } from '@ringkv/server';
import { randomBucketNames, simulate, type SimulationReport } from '@ringkv/sim';
import { createStore, type Store } from '@ringkv/store';
import { usage } from 'ringkv';

const FOO = 'foo@computer-name';
const BAR = 'bar@computer-name';

/** Sends one text-protocol line; resolves with the whole reply once its last line is a status. */
function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (/(^|\r\n)(OK|NOT FOUND|UNKNOWN COMMAND|ERROR[^\r\n]*)\r\n$/.test(reply)) socket.end(() => resolve(reply));
    });
    socket.on('error', reject);
    socket.write(`${line}\r\n`);
  });
}

async function main(): Promise<void> {
  const modules = createModuleRegistry();
  modules.register('Greeter', 'hello', { kind: 'plain', arity: 1, fn: (ctx, who: string) => `hello ${who} from ${ctx.node}` });
  const store: Store = await createStore({ backend: 'memory' });
  store.register(modules);

  const cluster = await startLocalCluster([
    { name: FOO, modules, routingTable: [{ from: 'a', to: 'm', node: FOO }, { from: 'n', to: 'z', node: BAR }] },
    { name: BAR, modules, routingTable: [{ from: 'a', to: 'z', node: BAR }] },
  ]);
  const foo: RingkvNode = cluster.node(FOO);
  for (const node of cluster.nodes) store.attach(node);
  const transport: Transport = foo.transport;

  const hello = await foo.route('hello', 'Kernel', 'node', []);
  const world = await foo.route('world', 'Greeter', 'hello', ['ana']);
  let noEntry = '';
  try {
    await foo.route('\u0000', 'Kernel', 'node', []);
  } catch (err) {
    if (!(err instanceof NoEntryError)) throw err;
    noEntry = err.message;
  }

  const server: RunningServer = await startServer({ node: foo, port: 0, host: '127.0.0.1' });
  const created = await ask(server.port, 'CREATE shopping');
  const put = await ask(server.port, 'PUT shopping eggs 3');
  const got = await ask(server.port, 'GET shopping eggs');
  await server.close();

  const ring: Ring = createRing({ members: [FOO, BAR] });
  const natsOptions: NatsTransportOptions = { url: 'nats://127.0.0.1:4222', name: FOO };
  // Type-checked, never called: the consumer test runs without a nats-server.
  const connectLater: typeof connectNatsTransport = connectNatsTransport;

  const report: SimulationReport = simulate({
    change: { members: [FOO, BAR], add: ['baz@computer-name'] },
    strategies: [{ kind: 'range', policy: { name: 'even' } }, { kind: 'ring' }],
    buckets: randomBucketNames({ count: 1000, seed: 1 }),
  });

  await cluster.stop();
  await store.close();

  console.log(
    JSON.stringify({
      hello,
      world,
      noEntry,
      server: [created, put, got],
      transport: transport.name,
      ringOwner: ring.owner('hello'),
      natsSubject: subjectForNode(FOO),
      natsUrl: natsOptions.url,
      natsConnect: typeof connectLater,
      simulated: report.results.map((r) => [r.kind, r.owner.fraction]),
      cliUsage: usage().split('\n')[0],
    }),
  );
}

await main();
