/**
 * docs/security.md's nats-server configuration, run as written: the guide's foo and bar work
 * under it with their own users and `ringkv route` with the client account; nobody else can
 * reach node subjects, and nobody, not even a member, can take over another node's subjects,
 * whether it subscribes before the node starts or after.
 */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import {
  BUCKETS_MESSAGE,
  kvCall,
  loadConfig,
  remoteRouter,
  ROUTE_MESSAGE,
  TransportError,
  type BucketSummary,
  type Logger,
} from '@ringkv/core';
import { connectNatsTransport, routeSubjectForNode, subjectForNode, type NatsTransport } from '@ringkv/nats';
import { startNodeFromConfig, type RunningNode } from 'ringkv';
import {
  describeDistributed,
  REPO_ROOT,
  runRingkv,
  startNatsServer,
  startNodeProcesses,
  type NatsServer,
  type NodeProcesses,
} from '@ringkv/test-utils';

const FOO = 'foo@computer-name';
const BAR = 'bar@computer-name';
const PASSWORDS = {
  RINGKV_FOO_PASSWORD: 'foo-pw-Zq81',
  RINGKV_BAR_PASSWORD: 'bar-pw-Lk27',
  RINGKV_CLIENT_PASSWORD: 'client-pw-Hy64',
  APP_PASSWORD: 'app-pw-Rt55',
};

/** The fenced block between the permissions-example markers of docs/security.md. */
function documentedConfig(): string {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'security.md'), 'utf8');
  const m = /<!-- permissions-example: start -->\n```conf\n([\s\S]*?)```\n<!-- permissions-example: end -->/.exec(doc);
  if (!m) throw new Error('docs/security.md has no permissions-example block');
  return m[1]!;
}

/**
 * The documented configuration with one more member user per ring node, each a copy of foo's
 * entry with the node's own name, subjects and password variable: the "one user per node, as
 * foo and bar" the document asks for ring clusters.
 */
function documentedConfigWithMembers(nodes: readonly string[]): string {
  const config = documentedConfig();
  const foo = /\n(( *)\{\n\s*user: "foo@computer-name"\n[\s\S]*?\n\2\})\n/.exec(config);
  if (!foo) throw new Error("docs/security.md's permissions example has no user entry for foo@computer-name");
  const entries = nodes.map((node) => {
    const token = subjectForNode(node).slice('ringkv.node.'.length);
    return foo[1]!
      .replaceAll('foo@computer-name', node)
      .replaceAll('foo~40computer-name', token)
      .replace('$RINGKV_FOO_PASSWORD', `$${passwordVariable(node)}`);
  });
  return config.replace(foo[0], `\n${foo[1]}\n${entries.join('\n')}\n`);
}

const passwordVariable = (node: string) => `RINGKV_${node.split('@')[0]!.toUpperCase()}_PASSWORD`;

describeDistributed('docs/security.md permissions: members, the client account and everyone else', () => {
  let nats: NatsServer;
  let nodes: NodeProcesses;
  let dir: string;
  const opened: Array<{ close(): Promise<unknown> }> = [];

  const as = async (user: string, password: string): Promise<NatsTransport> => {
    const t = await connectNatsTransport({ url: nats.url, user, password, name: `permissions test (${user})` });
    opened.push(t);
    return t;
  };
  const route = (t: NatsTransport, via: string, bucket: string) =>
    t.request(via, { type: ROUTE_MESSAGE, body: { bucket, mod: 'Kernel', fun: 'node', args: [], path: [] } }, { timeoutMs: 5000 });

  beforeAll(async () => {
    nats = await startNatsServer({ config: documentedConfig(), env: PASSWORDS });
    dir = mkdtempSync(join(tmpdir(), 'ringkv-permissions-'));
    writeFileSync(join(dir, 'client.pw'), `${PASSWORDS.RINGKV_CLIENT_PASSWORD}\n`);
    const env = { NATS_URL: nats.url, PORT: '0', NODE_ENV: 'test' };
    nodes = await startNodeProcesses([
      { config: join(REPO_ROOT, 'config', 'foo.json'), env: { ...env, NATS_USER: FOO, NATS_PASSWORD: PASSWORDS.RINGKV_FOO_PASSWORD } },
      { config: join(REPO_ROOT, 'config', 'bar.json'), env: { ...env, NATS_USER: BAR, NATS_PASSWORD: PASSWORDS.RINGKV_BAR_PASSWORD } },
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close().catch(() => {})));
    await nodes?.stop();
    await nats?.stop();
  });

  it('runs the guide: ringkv route with the client account reaches foo and, through foo, bar', async () => {
    const args = ['--via', FOO, '--nats', nats.url, '--nats-user', 'client', '--nats-password-file', join(dir, 'client.pw')];
    const hello = await runRingkv(['route', 'hello', 'Kernel', 'node', ...args]);
    expect(hello, nodes.output()).toEqual({ code: 0, stdout: `"${FOO}"\n`, stderr: '' });
    const world = await runRingkv(['route', 'world', 'Kernel', 'node', ...args]);
    expect(world, nodes.output()).toEqual({ code: 0, stdout: `"${BAR}"\n`, stderr: '' });
    const put = await runRingkv(['route', 'shopping', 'KV.Registry', 'create', 'shopping', ...args]);
    expect(put.stdout, put.stderr).toBe('"ok"\n');
    for (const secret of Object.values(PASSWORDS)) expect(nodes.output()).not.toContain(secret);
  });

  it('refuses connections without credentials', async () => {
    const err = await connectNatsTransport({ url: nats.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(/the server requires credentials \(Authorization Violation\) and none were given/);
  });

  it('lets another user of the server send no routing call, failing it at once', async () => {
    const app = await as('app', PASSWORDS.APP_PASSWORD);
    const started = Date.now();
    const err = await route(app, FOO, 'hello').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toBe(
      `NATS refused to let this connection publish to ${routeSubjectForNode(FOO)} (permissions violation): this NATS user may not send routing calls to node ${FOO}`,
    );
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('lets the client account send routing calls only: replica-level messages are refused', async () => {
    const client = await as('client', PASSWORDS.RINGKV_CLIENT_PASSWORD);
    expect(await route(client, FOO, 'hello')).toBe(FOO);
    const forged = { bucket: 'shopping', mod: 'KV.Bucket', fun: 'get', args: ['shopping', 'eggs'], meta: { mode: 'read' } };
    for (const type of ['ring.apply', 'kv.buckets', 'anything']) {
      const err = await client.request(BAR, { type, body: forged }, { timeoutMs: 4000 }).catch((e: unknown) => e);
      expect((err as Error).message, type).toMatch(
        /^NATS refused to let this connection publish to ringkv\.node\.bar~40computer-name \(permissions violation\)/,
      );
    }
    // Change events: a client cannot publish any.
    const raw: NatsConnection = await connect({ servers: nats.url, user: 'client', pass: PASSWORDS.RINGKV_CLIENT_PASSWORD });
    opened.push(raw);
    const errors: string[] = [];
    void (async () => {
      for await (const s of raw.status()) if (s.type === 'error') errors.push(String(s.data));
    })();
    raw.publish('ringkv.topic.ringkv.bucket.x73686f7070696e67', new Uint8Array([1]));
    await raw.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(errors.join()).toMatch(/PERMISSIONS_VIOLATION/);
  });

  it('lets no one else serve a node: client, app and even a member are refused its subjects', async () => {
    const attempts = [
      ['client', PASSWORDS.RINGKV_CLIENT_PASSWORD],
      ['app', PASSWORDS.APP_PASSWORD],
      [BAR, PASSWORDS.RINGKV_BAR_PASSWORD],
    ] as const;
    const fooPid = nodes.byName(FOO).pid();
    const esc = (text: string) => text.replace(/[.~()]/g, '\\$&');
    for (const [user, password] of attempts) {
      // A ringkv transport probes first: a user who may not publish to foo's node subject
      // learns so; a member may, and hears foo answer.
      const t = await as(user, password);
      const probed = await t.listen(FOO, () => 'forged').catch((e: unknown) => e);
      expect(probed, user).toBeInstanceOf(TransportError);
      expect((probed as Error).message, user).toMatch(
        user === BAR
          ? new RegExp(
              `^node ${FOO} is already served on this NATS cluster, on ${esc(subjectForNode(FOO))} by another ringkv process \\(node ${FOO}, pid ${fooPid} on host `,
            )
          : new RegExp(
              `^NATS refused to let this connection publish to ${esc(subjectForNode(FOO))} \\(permissions violation\\): this NATS user may not serve node ${FOO}$`,
            ),
      );
      // exclusive: false skips the probe, as a hostile subscriber would: the server refuses the subscription.
      const sneaky = await connectNatsTransport({ url: nats.url, user, password, exclusive: false });
      opened.push(sneaky);
      const subscribed = await sneaky.listen(FOO, () => 'forged').catch((e: unknown) => e);
      expect(subscribed, user).toBeInstanceOf(TransportError);
      expect((subscribed as Error).message, user).toMatch(
        new RegExp(
          `^NATS refused this connection's subscription to ringkv\\.(node|route)\\.foo~40computer-name \\(permissions violation\\): this NATS user may not serve node ${FOO}$`,
        ),
      );
    }
    const client = await as('client', PASSWORDS.RINGKV_CLIENT_PASSWORD);
    expect(await route(client, FOO, 'hello')).toBe(FOO);
  });

  it("squatting: a client that subscribes to foo's subjects before foo starts cannot take over", async () => {
    const foo = nodes.byName(FOO);
    expect(await foo.kill('SIGTERM')).toBe(0);
    const squatter: NatsConnection = await connect({ servers: nats.url, user: 'client', pass: PASSWORDS.RINGKV_CLIENT_PASSWORD });
    opened.push(squatter);
    const refused: string[] = [];
    for (const subject of [subjectForNode(FOO), routeSubjectForNode(FOO)]) {
      squatter.subscribe(subject, { callback: (err) => err && refused.push(err.message) });
    }
    await squatter.flush();
    expect(refused.join('\n')).toMatch(/Permissions Violation for Subscription to "ringkv\.node\.foo~40computer-name"/);
    expect(refused.join('\n')).toMatch(/Permissions Violation for Subscription to "ringkv\.route\.foo~40computer-name"/);
    await foo.restart();
    const client = await as('client', PASSWORDS.RINGKV_CLIENT_PASSWORD);
    expect(await route(client, FOO, 'hello')).toBe(FOO);
    expect(await route(client, FOO, 'world')).toBe(BAR);
  });
});

describeDistributed('docs/security.md permissions: a ring cluster with anti-entropy, and JetStream KV', () => {
  const RING = ['a@ringkv', 'b@ringkv', 'c@ringkv'];
  const [A, , C] = RING as [string, string, string];
  const ringPasswords = Object.fromEntries(RING.map((n, i) => [passwordVariable(n), `${n.split('@')[0]}-pw-Vb${i}9`]));
  const env = { ...PASSWORDS, ...ringPasswords };
  let nats: NatsServer;
  let dir: string;
  const running = new Map<string, RunningNode>();
  const opened: Array<{ close(): Promise<unknown> }> = [];
  const logged: string[] = [];

  const logger = (node: string): Logger => {
    const log = (m: string) => logged.push(`[${node}] ${m}`);
    return { debug: () => {}, info: log, warn: log, error: log };
  };
  const startMember = async (node: string) => {
    const name = node.split('@')[0]!;
    const file = join(dir, `${name}.json`);
    const config = loadConfig({
      file,
      env: { NATS_URL: nats.url, NATS_USER: node, NATS_PASSWORD: ringPasswords[passwordVariable(node)]! },
    });
    running.set(node, await startNodeFromConfig(config, { configFile: file, logger: logger(node) }));
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-permissions-ring-'));
    nats = await startNatsServer({ config: documentedConfigWithMembers(RING), env });
    for (const node of RING) {
      const name = node.split('@')[0]!;
      const base = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'ring', `${name}.json`), 'utf8')) as { ring: Record<string, unknown> };
      // Memory storage: stopping c and starting it again wipes it, and only anti-entropy (no
      // reads, no hints: c was up for every write) can bring its keys back. Managed: the
      // members agree through the cluster state in JetStream KV, under the same permissions.
      const config = {
        ...base,
        ring: { ...base.ring, r: 2, w: 2, antiEntropy: { intervalMs: 1000 } },
        roles: ['storage'],
        storage: { backend: 'memory' },
        cluster: { managed: true },
      };
      writeFileSync(join(dir, `${name}.json`), JSON.stringify(config));
    }
    for (const node of RING) await startMember(node);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close().catch(() => {})));
    await Promise.all([...running.values()].map((r) => r.stop()));
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a ring of three members, each with its own user; anti-entropy repairs a wiped member through the permissions', async () => {
    const client = await connectNatsTransport({
      url: nats.url,
      user: 'client',
      password: PASSWORDS.RINGKV_CLIENT_PASSWORD,
      name: 'permissions test client',
    });
    opened.push(client);
    const route = remoteRouter(client, A, { timeoutMs: 10_000 });
    expect(await kvCall(route, 'create', ['stock'])).toBe('ok');
    const KEYS = 300;
    for (let i = 0; i < KEYS; i += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, j) => kvCall(route, 'put', ['stock', `k${i + j}`, `v${i + j}`])));
      expect(answers.every((x) => x === 'ok')).toBe(true);
    }
    // Key counts come from kv.buckets, a member-only message: asked with a's credentials.
    const member = await connectNatsTransport({
      url: nats.url,
      user: A,
      password: ringPasswords[passwordVariable(A)]!,
      name: 'permissions test member',
    });
    opened.push(member);
    const keysOn = async (node: string) => {
      const list = (await member.request(node, { type: BUCKETS_MESSAGE, body: {} }, { timeoutMs: 5000 })) as BucketSummary[];
      return list.reduce((sum, b) => sum + b.keys, 0);
    };
    await vi.waitFor(async () => expect(await keysOn(C)).toBe(KEYS), { timeout: 10_000, interval: 200 });

    await running.get(C)!.stop();
    running.delete(C);
    await startMember(C);
    expect(await keysOn(C)).toBe(0);
    await vi.waitFor(async () => expect(await keysOn(C), logged.join('\n')).toBe(KEYS), { timeout: 20_000, interval: 250 });
    // Either side may start the exchange that repairs c; its log line names the other side and
    // is written once the exchange ends, which may be just after c holds the keys.
    await vi.waitFor(
      () =>
        expect(logged.join('\n')).toMatch(
          /\[[ab]@ringkv\] anti-entropy: exchange with c@ringkv: [1-9]\d* objects differed|\[c@ringkv\] anti-entropy: exchange with [ab]@ringkv: [1-9]\d* objects differed/,
        ),
      { timeout: 5000, interval: 100 },
    );
    expect(logged.join('\n')).not.toMatch(/permissions violation|Permissions Violation/i);
    for (const secret of Object.values(env)) expect(logged.join('\n')).not.toContain(secret);
    // The client reads what anti-entropy put back, through c.
    const viaC = remoteRouter(client, C, { timeoutMs: 10_000 });
    expect(await kvCall(viaC, 'get', ['stock', 'k7'])).toMatchObject({ value: new TextEncoder().encode('v7') });
  }, 90_000);

  it('lets members keep the cluster state in JetStream KV (ringkv-cluster), and not the client account', async () => {
    const asMember = await connect({ servers: nats.url, user: A, pass: ringPasswords[passwordVariable(A)]! });
    opened.push(asMember);
    const kv = await asMember.jetstream({ timeout: 5000 }).views.kv('ringkv-cluster', { history: 1 });
    const first = await kv.put('state', new TextEncoder().encode('{"epoch":1}'));
    const updates: string[] = [];
    const watch = await kv.watch({ key: 'state' });
    void (async () => {
      for await (const e of watch) updates.push(new TextDecoder().decode(e.value));
    })();
    await kv.update('state', new TextEncoder().encode('{"epoch":2}'), first);
    expect(new TextDecoder().decode((await kv.get('state'))!.value)).toBe('{"epoch":2}');
    await vi.waitFor(() => expect(updates).toContain('{"epoch":2}'), { timeout: 5000 });
    watch.stop();

    const asClient = await connect({ servers: nats.url, user: 'client', pass: PASSWORDS.RINGKV_CLIENT_PASSWORD });
    opened.push(asClient);
    const errors: string[] = [];
    void (async () => {
      for await (const st of asClient.status()) if (st.type === 'error') errors.push(String(st.data));
    })();
    const refused = await asClient
      .jetstream({ timeout: 3000 })
      .views.kv('ringkv-cluster', { bindOnly: true })
      .then((b) => b.get('state'))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    await asClient.flush();
    expect(`${String(refused)} ${errors.join(' ')}`).toMatch(/permissions? violation/i);
  }, 60_000);

  it('runs ringkv cluster status with the credentials of a member; the client account is refused the cluster state', async () => {
    writeFileSync(join(dir, 'a.pw'), `${ringPasswords[passwordVariable(A)]}\n`);
    writeFileSync(join(dir, 'client.pw'), `${PASSWORDS.RINGKV_CLIENT_PASSWORD}\n`);
    const status = await runRingkv([
      'cluster',
      'status',
      '--json',
      '--nats',
      nats.url,
      '--nats-user',
      A,
      '--nats-password-file',
      join(dir, 'a.pw'),
    ]);
    expect(status.code, status.stderr).toBe(0);
    const parsed = JSON.parse(status.stdout) as { epoch: number; members: Array<{ node: string }> };
    expect(parsed.epoch).toBeGreaterThanOrEqual(1);
    expect(parsed.members.map((m) => m.node).sort()).toEqual(RING);

    const refused = await runRingkv([
      'cluster',
      'status',
      '--nats',
      nats.url,
      '--nats-user',
      'client',
      '--nats-password-file',
      join(dir, 'client.pw'),
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/permissions? violation/i);
    // NATS_* variables work as for a node; a wrong password says how it authenticated, not with what.
    const wrong = await runRingkv(['cluster', 'status', '--nats', nats.url], { env: { NATS_USER: A, NATS_PASSWORD: 'not-the-password' } });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(
      /the server refused the credentials \(Authorization Violation; this connection authenticates as user "a@ringkv" with a password\)/,
    );
    for (const r of [status, refused, wrong])
      for (const secret of [...Object.values(env), 'not-the-password']) expect(r.stdout + r.stderr).not.toContain(secret);
  }, 60_000);
});
