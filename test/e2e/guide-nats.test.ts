/**
 * The guide's scenario for real: config/foo.json and config/bar.json as two `ringkv node start`
 * processes on one nats-server, driven by the `ringkv route` command.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDistributed, startNatsServer, type NatsServer, REPO_ROOT, runRingkv, startNodeProcesses, type NodeProcesses } from '@ringkv/test-utils';

describeDistributed('the guide over NATS: foo and bar as two processes', () => {
  let nats: NatsServer;
  let nodes: NodeProcesses;
  let env: Record<string, string>;
  beforeAll(async () => {
    nats = await startNatsServer();
    // PORT=0: foo has the server role; never take the guide's port 4040 in a test.
    env = { NATS_URL: nats.url, PORT: '0', NODE_ENV: 'test' };
    nodes = await startNodeProcesses(['foo', 'bar'].map((n) => ({ config: join(REPO_ROOT, 'config', `${n}.json`), env })));
  });
  afterAll(async () => {
    await nodes?.stop();
    await nats?.stop();
  });

  const route = (...args: string[]) => runRingkv(['route', ...args, '--via', 'foo@computer-name'], { env: { NATS_URL: nats.url } });

  it('runs hello on foo', async () => {
    const r = await route('hello', 'Kernel', 'node');
    expect(r, nodes.output()).toEqual({ code: 0, stdout: '"foo@computer-name"\n', stderr: '' });
  });

  it('forwards world from foo to bar', async () => {
    const r = await route('world', 'Kernel', 'node');
    expect(r, nodes.output()).toEqual({ code: 0, stdout: '"bar@computer-name"\n', stderr: '' });
  });

  it('fails the "\\u0000" bucket with "could not find entry for", naming both entries', async () => {
    const r = await route('00', 'Kernel', 'node', '--hex-bucket');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^NoEntryError: could not find entry for "\\u0000" in table \[a\.\.m -> foo@computer-name, n\.\.z -> bar@computer-name\]\n$/);
  });
});
