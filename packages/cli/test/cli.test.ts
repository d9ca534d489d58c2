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
