/**
 * docs/security.md's nats-server configuration, run as written: the guide's foo and bar work
 * under it with their own users and `ringkv route` with the client account; nobody else can
 * reach node subjects, and nobody, not even a member, can take over another node's subjects,
 * whether it subscribes before the node starts or after.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { ROUTE_MESSAGE, TransportError } from '@ringkv/core';
import { connectNatsTransport, routeSubjectForNode, subjectForNode, type NatsTransport } from '@ringkv/nats';
import { describeDistributed, REPO_ROOT, runRingkv, startNatsServer, startNodeProcesses, type NatsServer, type NodeProcesses } from '@ringkv/test-utils';

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
      expect((err as Error).message, type).toMatch(/^NATS refused to let this connection publish to ringkv\.node\.bar~40computer-name \(permissions violation\)/);
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
          ? new RegExp(`^node ${FOO} is already served on this NATS cluster, on ${esc(subjectForNode(FOO))} by another ringkv process \\(node ${FOO}, pid ${fooPid} on host `)
          : new RegExp(`^NATS refused to let this connection publish to ${esc(subjectForNode(FOO))} \\(permissions violation\\): this NATS user may not serve node ${FOO}$`),
      );
      // exclusive: false skips the probe, as a hostile subscriber would: the server refuses the subscription.
      const sneaky = await connectNatsTransport({ url: nats.url, user, password, exclusive: false });
      opened.push(sneaky);
      const subscribed = await sneaky.listen(FOO, () => 'forged').catch((e: unknown) => e);
      expect(subscribed, user).toBeInstanceOf(TransportError);
      expect((subscribed as Error).message, user).toMatch(
        new RegExp(`^NATS refused this connection's subscription to ringkv\\.(node|route)\\.foo~40computer-name \\(permissions violation\\): this NATS user may not serve node ${FOO}$`),
      );
    }
    const client = await as('client', PASSWORDS.RINGKV_CLIENT_PASSWORD);
    expect(await route(client, FOO, 'hello')).toBe(FOO);
  });

  it('squatting: a client that subscribes to foo\'s subjects before foo starts cannot take over', async () => {
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
