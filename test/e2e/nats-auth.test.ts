/**
 * ringkv over an authenticating nats-server, in every way it can prove who it is: user and
 * password (in the config, and in the URL), token, nkey, credentials file (operator/JWT) and
 * mutual TLS with a CA and certificates made by the test. In each, the guide's two nodes
 * (foo, bar) run as processes and answer `ringkv route`, a ring cluster (a, b, c) starts from
 * its config files and serves a client; a node with wrong credentials fails at once with a
 * clear error (and `ringkv node start` exits 1); no secret is ever printed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nkeys } from 'nats';
import { loadConfig, ROUTE_MESSAGE, type NatsSecurityOptions } from '@ringkv/core';
import { connectNatsTransport } from '@ringkv/nats';
import { main, startNodeFromConfig } from 'ringkv';
import {
  describeDistributed,
  makeOperatorSetup,
  makeTestCertificates,
  natsTlsConfig,
  REPO_ROOT,
  runRingkv,
  startNatsServer,
  startNodeProcesses,
  type CliResult,
  type NatsServer,
} from '@ringkv/test-utils';

const FOO = 'foo@computer-name';
const BAR = 'bar@computer-name';
const RING = ['a', 'b', 'c'].map((n) => `${n}@ringkv`);

interface Mode {
  name: string;
  /** nats-server config lines, and the URL scheme clients use. */
  server: { config: string; scheme?: string; jetstream?: boolean };
  /** The node's `nats` config section (beside the url). */
  nats: Record<string, unknown>;
  /** Environment for nodes and commands (NATS_* secrets). */
  env?: Record<string, string>;
  /** `ringkv route` flags (beside --nats). */
  routeFlags: string[];
  /** Library options for the test's own client. */
  client: NatsSecurityOptions;
  /** Credentials in the URL: user info to put in it. */
  urlUserinfo?: string;
  /** Wrong credentials: node config section, env, URL user info, and the error to expect. */
  wrong: { nats?: Record<string, unknown>; env?: Record<string, string>; urlUserinfo?: string; error: RegExp };
  /** Strings that must never appear in any output. */
  secrets: string[];
  /** Also run `ringkv node start` with the wrong credentials and check its exit. */
  exitTest?: boolean;
}

async function loadAndStart(file: string, env: Record<string, string | undefined>): Promise<never> {
  const running = await startNodeFromConfig(loadConfig({ file, env }), { configFile: file });
  await running.stop();
  throw new Error('the node started with wrong credentials');
}

function modes(dir: string): Mode[] {
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const refused = (how: string) =>
    new RegExp(
      `^TransportError: cannot connect to NATS at nats://127\\.0\\.0\\.1:\\d+: the server refused the credentials \\(Authorization Violation; this connection authenticates ${how}\\)$`,
      'm',
    );

  const password = 'pw-Qe4-s3cr3t';
  const wrongPassword = 'pw-Wr0ng-9x';
  const token = 'tok-Hh8-s3cr3t';
  const wrongToken = 'tok-Wr0ng-2z';
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  const stranger = nkeys.createUser();
  const strangerSeed = new TextDecoder().decode(stranger.getSeed());
  const jwt = makeOperatorSetup();
  const list: Mode[] = [
    {
      name: 'user and password',
      server: { config: `authorization { users: [{ user: ringkv, password: "${password}" }] }` },
      nats: { user: 'ringkv', passwordFile: file('password', `${password}\n`) },
      routeFlags: ['--nats-user', 'ringkv', '--nats-password-file', join(dir, 'password')],
      client: { user: 'ringkv', password },
      wrong: { nats: { passwordFile: file('wrong-password', wrongPassword) }, error: refused('as user "ringkv" with a password') },
      secrets: [password, wrongPassword],
      exitTest: true,
    },
    {
      name: 'user and password in the URL',
      server: { config: `authorization { users: [{ user: ringkv, password: "${password}" }] }` },
      nats: {},
      urlUserinfo: `ringkv:${encodeURIComponent(password)}`,
      routeFlags: [],
      client: { user: 'ringkv', password },
      wrong: { urlUserinfo: `ringkv:${wrongPassword}`, error: refused('as user "ringkv" with a password') },
      secrets: [password, wrongPassword],
      exitTest: true,
    },
    {
      name: 'token',
      server: { config: `authorization { token: "${token}" }` },
      nats: {},
      env: { NATS_TOKEN: token },
      routeFlags: ['--nats-token-file', file('token', token)],
      client: { token },
      wrong: { env: { NATS_TOKEN: wrongToken }, error: refused('with a token') },
      secrets: [token, wrongToken],
    },
    {
      name: 'nkey',
      server: { config: `authorization { users: [{ nkey: ${user.getPublicKey()} }] }` },
      nats: { nkeySeedFile: file('user.nk', `${seed}\n`) },
      routeFlags: ['--nats-nkey', join(dir, 'user.nk')],
      client: { nkeySeed: seed },
      wrong: { nats: { nkeySeedFile: file('stranger.nk', strangerSeed) }, error: refused(`with nkey ${stranger.getPublicKey()}`) },
      secrets: [seed, strangerSeed],
    },
    {
      name: 'credentials file (operator, account, user JWT)',
      // Operator mode without a system account cannot host JetStream (unused here).
      server: { config: jwt.serverConfig, jetstream: false },
      nats: { credentials: file('user.creds', jwt.creds) },
      routeFlags: ['--nats-creds', join(dir, 'user.creds')],
      client: { credentials: join(dir, 'user.creds') },
      wrong: {
        nats: { credentials: file('stranger.creds', jwt.strangerCreds) },
        error:
          /^TransportError: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: the server refused the credentials \(Authorization Violation; this connection authenticates with credentials file \S+stranger\.creds\)$/m,
      },
      secrets: [jwt.userSeed, ...jwt.strangerCreds.split('\n').filter((l) => l.startsWith('SU'))],
    },
  ];
  {
    // Needs openssl (.ci/run installs it): without it, making the certificates fails with a hint.
    // The server certificate names only nats.ringkv.test, so the client must say that name.
    const certs = makeTestCertificates({ serverName: 'nats.ringkv.test', withIp: false });
    const tls = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, serverName: 'nats.ringkv.test' };
    list.push({
      name: 'mutual TLS (CA, client certificate, server name)',
      server: { config: natsTlsConfig(certs), scheme: 'tls' },
      nats: { tls },
      routeFlags: [
        '--nats-ca',
        certs.ca,
        '--nats-cert',
        certs.clientCert,
        '--nats-key',
        certs.clientKey,
        '--nats-tls-server-name',
        'nats.ringkv.test',
      ],
      client: { tls },
      wrong: {
        nats: { tls: { ...tls, ca: certs.otherCa } },
        error:
          /^TransportError: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+ \(over TLS with a client certificate, trusting the CA in \S+other-ca\.pem\): unable to verify the first certificate$/m,
      },
      secrets: [readFileSync(certs.clientKey, 'utf8').split('\n')[1]!],
    });
  }
  return list;
}

const dir = mkdtempSync(join(tmpdir(), 'ringkv-nats-auth-'));
const MODES = modes(dir);

describeDistributed('ringkv through an authenticating nats-server', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const mode of MODES) {
    describeDistributed(mode.name, () => {
      let nats: NatsServer;
      let url: string;
      const configs = new Map<string, string>();

      /** A copy of a repository config with this mode's `nats` section. */
      const configFor = (source: string, name: string, nats: Record<string, unknown>) => {
        const config = JSON.parse(readFileSync(join(REPO_ROOT, 'config', source), 'utf8')) as Record<string, unknown>;
        const file = join(dir, `${mode.name.replace(/\W+/g, '-')}-${name}.json`);
        writeFileSync(file, JSON.stringify({ ...config, nats }));
        return file;
      };
      const withUserinfo = (info: string | undefined) => (info ? url.replace('://', `://${info}@`) : url);
      const noSecrets = (text: string) => {
        for (const secret of mode.secrets) expect(text).not.toContain(secret);
      };

      beforeAll(async () => {
        nats = await startNatsServer(mode.server);
        url = nats.url;
        for (const [source, name] of [
          ['foo.json', 'foo'],
          ['bar.json', 'bar'],
          ['ring/a.json', 'a'],
          ['ring/b.json', 'b'],
          ['ring/c.json', 'c'],
        ] as const) {
          configs.set(name, configFor(source, name, mode.nats));
        }
      });
      afterAll(() => nats?.stop());

      const nodeEnv = (extra: Record<string, string | undefined> = {}) => ({
        ...mode.env,
        NATS_URL: withUserinfo(mode.urlUserinfo),
        PORT: '0',
        RINGKV_CONFIG_DIR: dir,
        RINGKV_STORAGE_BACKEND: 'memory',
        ...extra,
      });

      it('runs the guide: foo and bar as processes, ringkv route through foo to bar', async () => {
        const nodes = await startNodeProcesses(['foo', 'bar'].map((n) => ({ config: configs.get(n)!, env: nodeEnv() })));
        let r: CliResult | undefined;
        try {
          r = await runRingkv(
            ['route', 'world', 'Kernel', 'node', '--via', FOO, '--nats', withUserinfo(mode.urlUserinfo), ...mode.routeFlags],
            {
              env: { RINGKV_CONFIG_DIR: dir },
            },
          );
          expect(r, nodes.output()).toEqual({ code: 0, stdout: `"${BAR}"\n`, stderr: '' });
          expect(nodes.output()).toMatch(/node foo@computer-name ready \(transport nats (nats|tls):\/\/127\.0\.0\.1:\d+;/);
        } finally {
          await nodes.stop();
        }
        noSecrets(nodes.output() + (r ? r.stdout + r.stderr : ''));
      }, 120_000);

      it('runs a ring cluster (a, b, c) from its config files; a client with the same options writes and reads', async () => {
        const logged: string[] = [];
        const logger = {
          debug: () => {},
          info: (m: string) => logged.push(m),
          warn: (m: string) => logged.push(m),
          error: (m: string) => logged.push(m),
        };
        const running = await Promise.all(
          ['a', 'b', 'c'].map((n) =>
            startNodeFromConfig(loadConfig({ file: configs.get(n)!, env: nodeEnv() }), { configFile: configs.get(n)!, logger }),
          ),
        );
        const client = await connectNatsTransport({ ...mode.client, url, name: 'nats-auth test client' });
        try {
          const call = (via: string, fun: string, args: unknown[]) =>
            client.request(
              via,
              {
                type: ROUTE_MESSAGE,
                body: { bucket: 'inventory', mod: fun === 'create' ? 'KV.Registry' : 'KV.Bucket', fun, args, path: [] },
              },
              { timeoutMs: 10_000 },
            );
          expect(await call(RING[0]!, 'create', ['inventory'])).toBe('ok');
          for (let i = 0; i < 20; i++) expect(await call(RING[i % 3]!, 'put', ['inventory', `k${i}`, `v${i}`])).toBe('ok');
          for (let i = 0; i < 20; i++) {
            const got = (await call(RING[(i + 1) % 3]!, 'get', ['inventory', `k${i}`])) as { value: Uint8Array };
            expect(new TextDecoder().decode(got.value)).toBe(`v${i}`);
          }
        } finally {
          await client.close();
          await Promise.all(running.map((r) => r.stop()));
        }
        noSecrets(logged.join('\n'));
        noSecrets(JSON.stringify(running.map((r) => r.config)));
      }, 120_000);

      it('refuses wrong credentials at once, with a clear error that shows no secret', async () => {
        const config = mode.wrong.nats ? configFor('foo.json', 'foo-wrong', { ...mode.nats, ...mode.wrong.nats }) : configs.get('foo')!;
        const env = nodeEnv({ ...mode.wrong.env, NATS_URL: withUserinfo(mode.wrong.urlUserinfo) });
        const started = Date.now();
        const err = await loadAndStart(config, env).catch((e: unknown) => e);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(`${(err as Error).name}: ${(err as Error).message}`).toMatch(mode.wrong.error);
        noSecrets(`${String(err)} ${(err as Error).stack ?? ''}`);
        if (!mode.exitTest) return;
        // The command: exit code 1 at once, the same one line on stderr.
        const r = await runRingkv(['node', 'start', '--config', config], { env: env as Record<string, string>, timeoutMs: 20_000 });
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(mode.wrong.error);
        noSecrets(r.stdout + r.stderr);
      }, 60_000);
    });
  }

  /** `ringkv` run in this process (cheap: no process start), its output captured. */
  async function ringkv(args: string[], env: Record<string, string>): Promise<CliResult> {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env, cwd: REPO_ROOT });
    return { code, stdout, stderr };
  }

  it('prints no secret in --help, whatever the environment holds', async () => {
    const env = { NATS_PASSWORD: 'help-pw-Zz9', NATS_TOKEN: 'help-tok-Yy8', NATS_URL: 'nats://u:help-url-pw-Xx7@127.0.0.1:1' };
    for (const args of [['node', 'start', '--help'], ['route', '--help'], ['--help']]) {
      const r = await ringkv(args, env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/--nats|Usage/);
      for (const secret of ['help-pw-Zz9', 'help-tok-Yy8', 'help-url-pw-Xx7']) expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  it('prints no secret when the connection fails for another reason (nobody listening)', async () => {
    const r = await ringkv(['route', 'hello', 'Kernel', 'node', '--via', FOO, '--nats', 'nats://ana:url-pw-Ww6@127.0.0.1:1'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^TransportError: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1 \(as user "ana" with a password\): /);
    expect(r.stderr).not.toContain('url-pw-Ww6');
  });
});
