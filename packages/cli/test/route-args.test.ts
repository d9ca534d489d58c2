import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, UsageError } from '../src/index.js';
import { formatResult, hexToBytes, parseArg, parseRouteArgv } from '../src/commands/route.js';

describe('ringkv route: command line', () => {
  it('takes bucket, module, function and JSON-or-string arguments', () => {
    const r = parseRouteArgv(['shopping', 'KV.Bucket', 'put', 'eggs', '3', '--via', 'foo@computer-name', 'true', '"3"', '[1,"a"]']);
    expect(r).toMatchObject({ bucket: 'shopping', mod: 'KV.Bucket', fun: 'put', via: 'foo@computer-name' });
    expect(r.args).toEqual(['eggs', 3, true, '3', [1, 'a']]);
  });

  it('reads the bucket as hex bytes with --hex-bucket', () => {
    const r = parseRouteArgv(['00ff', 'Kernel', 'node', '--hex-bucket']);
    expect(r.bucket).toEqual(new Uint8Array([0, 0xff]));
    expect(() => parseRouteArgv(['0', 'Kernel', 'node', '--hex-bucket'])).toThrow(/not an even number of hex digits/);
    expect(() => hexToBytes('zz')).toThrow(UsageError);
  });

  it('accepts arguments starting with - after --', () => {
    expect(parseRouteArgv(['b', 'M', 'f', '--', '-1', '--x']).args).toEqual([-1, '--x']);
    expect(() => parseRouteArgv(['b', 'M', 'f', '-1'])).toThrow(/put -- before arguments/);
  });

  it('rejects missing positionals and bad timeouts with a usage error', () => {
    expect(() => parseRouteArgv(['hello', 'Kernel'])).toThrow(UsageError);
    expect(() => parseRouteArgv(['hello', 'Kernel', 'node', '--timeout', '0'])).toThrow(/--timeout must be a positive integer/);
    expect(() => parseRouteArgv(['hello', 'Kernel', 'node', '--timeout', 'soon'])).toThrow(UsageError);
    expect(parseRouteArgv(['hello', 'Kernel', 'node', '--timeout', '250']).timeoutMs).toBe(250);
  });

  it('parses arguments as JSON only when they are JSON', () => {
    expect(parseArg('{"a":1}')).toEqual({ a: 1 });
    expect(parseArg('null')).toBeNull();
    expect(parseArg('eggs')).toBe('eggs');
    expect(parseArg('{oops')).toBe('{oops');
  });

  it('prints results as JSON, bytes as {"$bytes": hex}', () => {
    expect(formatResult('foo@computer-name')).toBe('"foo@computer-name"');
    expect(formatResult({ value: new Uint8Array([0, 0xff, 0x33]) })).toBe('{"value":{"$bytes":"00ff33"}}');
    expect(formatResult(undefined)).toBe('null');
    expect(formatResult([1, undefined, 10n])).toBe('[1,null,"10"]');
  });
});

describe('ringkv route: configuration', () => {
  it('refuses a config whose transport is not NATS, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringkv-route-'));
    try {
      writeFileSync(join(dir, 'n.json'), JSON.stringify({ node: 'n@h', transport: 'in-process' }));
      const err: string[] = [];
      const io = { stdout: () => {}, stderr: (t: string) => void err.push(t), env: {}, cwd: dir };
      expect(await main(['route', 'hello', 'Kernel', 'node', '--config', join(dir, 'n.json')], io)).toBe(1);
      expect(err.join('')).toBe('ConfigError: ringkv route reaches nodes over NATS, but the configuration says transport "in-process"\n');
      const usage: string[] = [];
      expect(await main(['route', 'hello', 'Kernel', 'node'], { ...io, stderr: (t: string) => void usage.push(t) })).toBe(2);
      expect(usage.join('')).toMatch(/no node to send the call to: give --via <node>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
