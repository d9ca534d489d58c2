// The README's "As a library" example, verbatim in substance: if this breaks, the README lies.
import { expect, it } from 'vitest';
import { createModuleRegistry, startLocalCluster } from '@ringkv/core';

it('runs the README library example', async () => {
  const modules = createModuleRegistry(); // Kernel.node is built in
  modules.register('Greeter', 'hello', { kind: 'plain', arity: 1, fn: (ctx, who) => `hello ${who} from ${ctx.node}` });

  const cluster = await startLocalCluster([
    { name: 'foo@computer-name', modules, routingTable: [{ from: 'a', to: 'm', node: 'foo@computer-name' }, { from: 'n', to: 'z', node: 'bar@computer-name' }] },
    { name: 'bar@computer-name', modules, routingTable: [{ from: 'a', to: 'z', node: 'bar@computer-name' }] },
  ]);
  try {
    expect(await cluster.node('foo@computer-name').route('world', 'Greeter', 'hello', ['ana'])).toBe('hello ana from bar@computer-name');
  } finally {
    await cluster.stop();
  }
});
