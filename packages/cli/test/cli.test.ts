import { describe, expect, it } from 'vitest';
import { main, COMMANDS } from '../src/index.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env: {}, cwd: process.cwd() }, out, err };
}

describe('ringkv command', () => {
  it('lists every command in --help', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    for (const cmd of COMMANDS) expect(c.out.join('')).toContain(cmd.name);
  });

  it('has --help with an example on every command', async () => {
    for (const cmd of COMMANDS) {
      const c = capture();
      expect(await main([...cmd.name.split(' '), '--help'], c.io)).toBe(0);
      expect(c.out.join('')).toMatch(/Example/);
    }
  });

  it('answers a command group (`ringkv node --help`) with its subcommands', async () => {
    const asked = capture();
    expect(await main(['node', '--help'], asked.io)).toBe(0);
    expect(asked.out.join('')).toContain('Usage: ringkv node <subcommand>');
    expect(asked.out.join('')).toContain('node start');
    const bare = capture();
    expect(await main(['node'], bare.io)).toBe(2);
    expect(bare.err.join('')).toContain('"node" needs a subcommand');
    expect(bare.err.join('')).toContain('node start');
  });

  it('warns when a simulation changes nothing, or asks for more replicas than members', async () => {
    const noop = capture();
    expect(await main(['simulate', '--buckets', '100', '--nodes', '3'], noop.io)).toBe(0);
    expect(noop.err.join('')).toContain('warning: nothing changes');
    const wide = capture();
    expect(await main(['simulate', '--buckets', '100', '--nodes', '2', '--add', '1', '--strategy', 'ring', '--n', '4'], wide.io)).toBe(0);
    expect(wide.err.join('')).toContain('warning: N = 4 replicas but the cluster has 2 member(s) before and 3 after the change');
  });

  it('says which port is busy and how to pick another when the text server cannot listen', async () => {
    const { createServer } = await import('node:net');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const file = join(mkdtempSync(join(tmpdir(), 'ringkv-busy-')), 'node.json');
    writeFileSync(file, JSON.stringify({ node: 'foo@x', transport: 'in-process', routingTable: [{ from: 0, to: 255, node: 'foo@x' }], server: { port, host: '127.0.0.1' } }));
    const c = capture();
    try {
      expect(await main(['node', 'start', '--config', file], c.io)).toBe(1);
    } finally {
      busy.close();
    }
    expect(c.err.join('')).toContain(`the text server's port ${port} (host 127.0.0.1) is in use by another process: pick another one with the PORT environment variable`);
  });

  it('rejects unknown commands with exit code 2', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(2);
    expect(c.err.join('')).toContain('unknown command "frobnicate"');
  });
});

describe('ringkv --version', () => {
  it('prints the version of the installed package', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const c = capture();
    expect(await main(['--version'], c.io)).toBe(0);
    expect(c.out.join('')).toBe(`${pkg.version}\n`);
  });
});
