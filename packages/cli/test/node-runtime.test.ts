import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, createInProcessNetwork, parseConfig } from '@ringkv/core';
import { startNodeFromConfig } from '../src/node-runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-runtime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'greeter.mjs'), `export function register(registry) {
  registry.register('Greeter', 'hello', { kind: 'plain', arity: 1, fn: (ctx, who) => 'hello ' + who + ' from ' + ctx.node });
}\n`);
writeFileSync(join(dir, 'no-register.mjs'), 'export const x = 1;\n');
writeFileSync(join(dir, 'throws.mjs'), "export function register() { throw new Error('boom'); }\n");

const table = [
  { from: 'a', to: 'm', node: 'foo@computer-name' },
  { from: 'n', to: 'z', node: 'bar@computer-name' },
];

describe('startNodeFromConfig', () => {
  it('starts nodes that route to each other, with module files resolved relative to the config file', async () => {
    const network = createInProcessNetwork();
    const configFile = join(dir, 'foo.json');
    const common = { transport: 'in-process', roles: ['storage'], modules: ['./greeter.mjs'], storage: { backend: 'memory' } };
    const foo = await startNodeFromConfig(parseConfig({ ...common, node: 'foo@computer-name', routingTable: table }), { configFile, network });
    const bar = await startNodeFromConfig(
      parseConfig({ ...common, node: 'bar@computer-name', routingTable: [{ from: 'a', to: 'z', node: 'bar@computer-name' }] }),
      { configFile, network },
    );
    try {
      expect(await foo.node.route('hello', 'Kernel', 'node', [])).toBe('foo@computer-name');
      expect(await foo.node.route('world', 'Kernel', 'node', [])).toBe('bar@computer-name');
      expect(await foo.node.route('world', 'Greeter', 'hello', ['ana'])).toBe('hello ana from bar@computer-name');
      await expect(foo.node.route('\u0000', 'Kernel', 'node', [])).rejects.toThrow(/could not find entry for "\\u0000" in table \[a..m -> foo@computer-name, n..z -> bar@computer-name\]/);
      expect(foo.node.hopTimeoutMs()).toBe(5000);
    } finally {
      await foo.stop();
      await bar.stop();
    }
    // Stopped nodes are no longer served.
    expect(network.nodes()).toEqual([]);
  });

  it('needs a node name', async () => {
    await expect(startNodeFromConfig(parseConfig({ transport: 'in-process' }))).rejects.toThrow(/config has no node name/);
  });

  it('says which module file is wrong, and leaves nothing running', async () => {
    const network = createInProcessNetwork();
    const base = { node: 'foo@computer-name', transport: 'in-process', storage: { backend: 'memory' } };
    for (const [file, message] of [
      ['./no-register.mjs', /does not export a function register\(registry\)/],
      ['./throws.mjs', /register\(\) of .*throws\.mjs failed: boom/],
      ['./missing.mjs', /cannot load .*missing\.mjs/],
    ] as const) {
      const err = (await startNodeFromConfig(parseConfig({ ...base, modules: [file] }), { baseDir: dir, network }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(message);
    }
    expect(network.nodes()).toEqual([]);
  });
});
