import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDistributed, startNatsServer, type NatsServer, runRingkv, startNodeProcess, startNodeProcesses, type NodeProcesses } from '@ringkv/test-utils';
import { main } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-cli-'));
writeFileSync(
  join(dir, 'echo.mjs'),
  `export function register(r) {
  r.register('Echo', 'it', { kind: 'plain', arity: 1, fn: (_ctx, v) => v });
  r.register('Echo', 'slow', { kind: 'plain', arity: 1, fn: (ctx, ms) => {
    process.stderr.write('slow call started: ' + ms + ' ms\\n');
    return new Promise((res) => setTimeout(() => res(ctx.node), ms));
  } });
}\n`,
);
const table = [
  { from: 'a', to: 'm', node: 'one@ringkv.test' },
  { from: 'n', to: 'z', node: 'two@ringkv.test' },
];
for (const name of ['one', 'two']) {
  writeFileSync(
    join(dir, `${name}.json`),
    JSON.stringify({ node: `${name}@ringkv.test`, routingTable: table, roles: ['storage'], modules: ['./echo.mjs'] }),
  );
}

function capture(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env, cwd: dir },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describeDistributed('ringkv node start + ringkv route over NATS', () => {
  let nats: NatsServer;
  let nodes: NodeProcesses;
  beforeAll(async () => {
    nats = await startNatsServer();
    nodes = await startNodeProcesses(['one', 'two'].map((n) => ({ config: join(dir, `${n}.json`), env: { NATS_URL: nats.url } })));
  });
  afterAll(async () => {
    await nodes?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a ready line naming the node, transport and table', () => {
    const one = nodes.byName('one@ringkv.test');
    expect(one.output()).toMatch(/^node one@ringkv.test ready \(transport nats nats:\/\/127\.0\.0\.1:\d+; range table \[a..m -> one@ringkv.test, n..z -> two@ringkv.test\]/m);
  });

  it('routes through --via and prints JSON; module files load relative to the config', async () => {
    const c = capture({ NATS_URL: nats.url });
    expect(await main(['route', 'world', 'Kernel', 'node', '--via', 'one@ringkv.test'], c.io)).toBe(0);
    expect(c.out()).toBe('"two@ringkv.test"\n');
    const d = capture({ NATS_URL: nats.url });
    expect(await main(['route', 'hello', 'Echo', 'it', '{"n":[1,"x",null]}', '--config', join(dir, 'two.json')], d.io)).toBe(0);
    expect(JSON.parse(d.out())).toEqual({ n: [1, 'x', null] });
  });

  it('stores and reads bytes through the KV functions, printing bytes as {"$bytes": hex}', async () => {
    const run = async (...args: string[]) => {
      const c = capture({ NATS_URL: nats.url });
      const code = await main(['route', ...args, '--via', 'one@ringkv.test'], c.io);
      return { code, out: c.out(), err: c.err() };
    };
    expect(await run('zoo', 'KV.Registry', 'create', 'zoo')).toEqual({ code: 0, out: '"ok"\n', err: '' });
    expect(await run('zoo', 'KV.Bucket', 'put', 'zoo', 'eggs', '"3"')).toEqual({ code: 0, out: '"ok"\n', err: '' });
    expect(await run('zoo', 'KV.Bucket', 'get', 'zoo', 'eggs')).toEqual({ code: 0, out: '{"value":{"$bytes":"33"}}\n', err: '' });
    // The bucket lives on its owner only (z -> two).
    expect(await run('zoo', 'Kernel', 'node')).toEqual({ code: 0, out: '"two@ringkv.test"\n', err: '' });
  });

  it('takes the NATS URL from --nats', async () => {
    const c = capture({});
    expect(await main(['route', 'hello', 'Kernel', 'node', '--via', 'two@ringkv.test', '--nats', nats.url], c.io)).toBe(0);
    expect(c.out()).toBe('"one@ringkv.test"\n');
  });

  it('prints the error class and message on stderr and exits non-zero', async () => {
    const r = await runRingkv(['route', '00', 'Kernel', 'node', '--hex-bucket', '--via', 'one@ringkv.test'], { env: { NATS_URL: nats.url } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('NoEntryError: could not find entry for "\\u0000" in table [a..m -> one@ringkv.test, n..z -> two@ringkv.test]\n');
    const c = capture({ NATS_URL: nats.url });
    expect(await main(['route', 'hello', 'Kernel', 'node', '--via', 'ghost@ringkv.test'], c.io)).toBe(1);
    expect(c.err()).toBe('NodeUnreachableError: node ghost@ringkv.test is not reachable\n');
    const t = capture({ NATS_URL: nats.url });
    expect(await main(['route', 'world', 'Echo', 'slow', '3000', '--via', 'one@ringkv.test', '--timeout', '200'], t.io)).toBe(1);
    expect(t.err()).toBe('TimeoutError: node two@ringkv.test did not answer within 200 ms\n');
  });

  it('fails clearly when NATS is not there', async () => {
    const c = capture({});
    expect(await main(['route', 'hello', 'Kernel', 'node', '--via', 'one@ringkv.test', '--nats', 'nats://127.0.0.1:1'], c.io)).toBe(1);
    expect(c.err()).toMatch(/^TransportError: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });

  it('refuses to start a second node with a name already served', async () => {
    const err = (await startNodeProcess({ config: join(dir, 'one.json'), env: { NATS_URL: nats.url }, readyTimeoutMs: 10_000 }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/TransportError: node one@ringkv.test is already served/);
  });

  it('drains on SIGTERM and exits 0; a restarted node serves again', async () => {
    const two = nodes.byName('two@ringkv.test');
    const s = capture({ NATS_URL: nats.url });
    const slow = main(['route', 'world', 'Echo', 'slow', '500', '--via', 'one@ringkv.test'], s.io);
    await two.waitFor(/slow call started: 500 ms/);
    expect(await two.kill('SIGTERM')).toBe(0);
    expect(two.output()).toMatch(/node two@ringkv.test stopping \(SIGTERM\): draining\nnode two@ringkv.test stopped/);
    // The call in flight when the signal came still got its answer.
    expect(await slow, s.err()).toBe(0);
    expect(s.err()).toBe('');
    expect(s.out()).toBe('"two@ringkv.test"\n');
    const c = capture({ NATS_URL: nats.url });
    expect(await main(['route', 'world', 'Kernel', 'node', '--via', 'one@ringkv.test'], c.io)).toBe(1);
    expect(c.err()).toBe('NodeUnreachableError: node two@ringkv.test is not reachable\n');
    await two.restart();
    const d = capture({ NATS_URL: nats.url });
    expect(await main(['route', 'world', 'Kernel', 'node', '--via', 'one@ringkv.test'], d.io)).toBe(0);
    expect(d.out()).toBe('"two@ringkv.test"\n');
  });

  it('node processes serve again after nats-server restarts, without being restarted', async () => {
    const pids = nodes.nodes.map((n) => n.pid());
    await nats.restart();
    const deadline = Date.now() + 15_000;
    let last = { code: -1, out: '', err: '' };
    while (Date.now() < deadline) {
      const c = capture({ NATS_URL: nats.url });
      const code = await main(['route', 'world', 'Kernel', 'node', '--via', 'one@ringkv.test'], c.io);
      last = { code, out: c.out(), err: c.err() };
      if (code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last, nodes.output()).toEqual({ code: 0, out: '"two@ringkv.test"\n', err: '' });
    expect(nodes.nodes.map((n) => n.pid())).toEqual(pids);
    expect(nodes.byName('one@ringkv.test').output()).toMatch(/NATS connection re-established/);
  });

  it('fails with a message naming the field for a bad config', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ node: 'bad@ringkv.test', routingTabel: [] }));
    const r = await runRingkv(['node', 'start', '--config', join(dir, 'bad.json')], { env: { NATS_URL: nats.url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ConfigError: invalid configuration in .*bad\.json/);
    expect(r.stderr).toMatch(/routingTabel/);
  });
});
