/**
 * The `ringkv cluster` commands against real node processes over NATS (cluster state in
 * JetStream KV): status, staging, a plan that names a member that is down, a commit refused
 * because the cluster changed after the plan, a commit that goes through, and the cluster
 * settling with the new member holding its share.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvCall, remoteRouter, type Transport } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { main, type ClusterPlan, type ClusterStatus } from 'ringkv';
import { describeDistributed, startNatsServer, startNodeProcess, type NatsServer, type NodeProcess } from '@ringkv/test-utils';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

const SEEDS = ['a@cli', 'b@cli', 'c@cli'];

describeDistributed('ringkv cluster commands over NATS', () => {
  let nats: NatsServer;
  let dir: string;
  const nodes = new Map<string, NodeProcess>();

  function config(name: string, members: readonly string[]): string {
    const path = join(dir, `${name.split('@')[0]}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        node: name,
        strategy: 'ring',
        roles: ['server', 'storage'],
        server: { port: 0 },
        cluster: { managed: true, heartbeatMs: 200, livenessMs: 2000 },
        ring: { members, n: 3, r: 2, w: 2, vnodes: 64, pingIntervalMs: 200 },
      }),
    );
    return path;
  }

  /** `ringkv <args> --nats <url>`, run in this process (the command's own code, without a process start per call). */
  async function ringkv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await main([...args, '--nats', nats.url], {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      env: {},
      cwd: dir,
    });
    return { code, stdout, stderr };
  }
  async function ok(...args: string[]): Promise<string> {
    const r = await ringkv(...args);
    expect(r.code, `ringkv ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  }
  const status = async () => JSON.parse(await ok('cluster', 'status', '--json')) as ClusterStatus;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-cluster-cli-'));
    nats = await startNatsServer();
    await Promise.all(
      SEEDS.map(async (n) => nodes.set(n, await startNodeProcess({ config: config(n, SEEDS), env: { NATS_URL: nats.url } }))),
    );
    const client: Transport = await connectNatsTransport({ url: nats.url, name: 'cluster cli test' });
    try {
      for (let i = 0; i < 12; i++) {
        expect(await kvCall(remoteRouter(client, 'a@cli', { timeoutMs: 5000 }), 'create', [`bucket-${i}`])).toBe('ok');
        expect(await kvCall(remoteRouter(client, 'b@cli', { timeoutMs: 5000 }), 'put', [`bucket-${i}`, 'k', 'v'.repeat(100)])).toBe('ok');
      }
    } finally {
      await client.close();
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.kill('SIGKILL')));
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('status: epoch, members with what they hold, no transfers, settled', async () => {
    const s = await vi.waitFor(
      async () => {
        const s = await status();
        expect(s.settled).toBe(true);
        return s;
      },
      { timeout: 20_000, interval: 300 },
    );
    expect(s.epoch).toBe(1);
    expect(s.members.map((m) => [m.node, m.state])).toEqual(SEEDS.map((n) => [n, 'valid']));
    for (const m of s.members) {
      expect(m.buckets).toBe(12);
      expect(m.keys).toBe(12);
      expect(m.bytes).toBeGreaterThan(12 * 100);
    }
    expect(s.transfers).toEqual([]);
    expect(await ok('cluster', 'status')).toMatch(/epoch 1 \(ring\), settled/);
  });

  it('stages a join, names a down member in plan and status, refuses a stale commit, then commits and settles', async () => {
    const d = await startNodeProcess({ config: config('d@cli', []), env: { NATS_URL: nats.url } });
    nodes.set('d@cli', d);
    expect(d.output()).toMatch(/not a member of the cluster/);
    expect(await ok('cluster', 'join', 'd@cli')).toMatch(/staged: join d@cli/);
    const again = await ringkv('cluster', 'join', 'd@cli');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/d@cli already has a staged change/);

    // c down (stopped, so it keeps its memory-stored data): plan and status still answer, and say who did not.
    const c = nodes.get('c@cli')!;
    process.kill(c.pid()!, 'SIGSTOP');
    const plan = JSON.parse(await ok('cluster', 'plan', '--json', '--timeout', '1000')) as ClusterPlan;
    expect(plan.down).toEqual(['c@cli']);
    expect(plan.warnings.join('\n')).toMatch(/member down: c@cli did not answer/);
    expect(plan.membersAfter).toEqual(['a@cli', 'b@cli', 'c@cli', 'd@cli']);
    expect(plan.buckets).toBe(12);
    expect(plan.betweenStaying).toBe(0);
    expect(plan.moves.every((m) => m.to === 'd@cli')).toBe(true);
    const down = JSON.parse(await ok('cluster', 'status', '--json', '--timeout', '1000')) as ClusterStatus;
    expect(down.members.find((m) => m.node === 'c@cli')?.state).toBe('down');
    expect(down.warnings.join('\n')).toMatch(/member down: c@cli/);
    process.kill(c.pid()!, 'SIGCONT');

    // The cluster changed after the plan: commit refuses and asks for a new plan.
    await ok('cluster', 'transfers', 'limit', '1');
    const stale = await ringkv('cluster', 'commit');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/changed since the plan was made.*run `ringkv cluster plan` again/);

    // Paused before the commit: the change's transfers are planned paused, nothing moves until resumed.
    expect(await ok('cluster', 'transfers', 'pause')).toMatch(/^pause all/);
    const fresh = JSON.parse(await ok('cluster', 'plan', '--json')) as ClusterPlan;
    expect(fresh.down).toEqual([]);
    expect(await ok('cluster', 'commit')).toMatch(/committed: epoch 2/);
    // A live status view until settled, sampled every 200 ms.
    const watching = ringkv('cluster', 'status', '--watch', '--interval', '200');
    const paused = await vi.waitFor(
      async () => {
        const s = await status();
        expect(s.transition?.phase).toBe('stream');
        expect(s.transfers.length).toBeGreaterThan(0);
        return s;
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(paused.transfers.every((t) => t.status === 'paused' && t.doneBytes === 0)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await status()).transfers.every((t) => t.status === 'paused' && t.doneBytes === 0)).toBe(true);
    expect(await ok('cluster', 'transfers', 'resume')).toMatch(/^resume all/);
    const s = await vi.waitFor(
      async () => {
        const s = await status();
        expect(s.transition).toBeNull();
        expect(s.settled).toBe(true);
        return s;
      },
      { timeout: 60_000, interval: 300 },
    );
    // commit, then write-both, stream, read-new, cleanup, and the settled epoch.
    expect(s.epoch).toBe(6);
    // The watch showed the change in progress (transfers paused, then moving), and stopped once settled.
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(0);
    const renders = watched.stdout.split(/^--- /m).filter(Boolean);
    expect(renders.length).toBeGreaterThan(2);
    expect(renders.at(-1)).toMatch(/^\S+\nepoch 6 \(ring\), settled\n/);
    expect(renders.slice(0, -1).every((r) => !/, settled/.test(r))).toBe(true);
    expect(renders.some((r) => /, transfers paused/.test(r) && /phase stream/.test(r))).toBe(true);
    expect(s.limits.in).toBe(1);
    expect(s.members.map((m) => [m.node, m.state])).toEqual([...SEEDS, 'd@cli'].map((n) => [n, 'valid']));
    const total = s.members.reduce((n, m) => n + m.buckets, 0);
    expect(total).toBe(12 * 3);
    expect(s.members.find((m) => m.node === 'd@cli')!.buckets).toBe(fresh.moves.reduce((n, m) => n + m.buckets, 0));
  }, 120_000);
});
