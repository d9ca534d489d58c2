/**
 * The NATS connection flags shared by the commands that connect (`node start`, `route`):
 * `--nats <url>` and the security options of config's `nats` section. Secrets are taken from
 * files (or the environment, or the config), never from a flag's value: a command line is
 * visible to every user of the machine (`ps`).
 *
 * @example
 * const { values } = parseArgs({ args, options: { ...NATS_FLAGS } });
 * loadConfig({ file, overrides: natsOverrides(values) });
 */
import type { NatsSecurityOptions, RingkvConfig } from '@ringkv/core';

export const NATS_FLAGS = {
  nats: { type: 'string' },
  'nats-user': { type: 'string' },
  'nats-password-file': { type: 'string' },
  'nats-token-file': { type: 'string' },
  'nats-nkey': { type: 'string' },
  'nats-creds': { type: 'string' },
  'nats-ca': { type: 'string' },
  'nats-cert': { type: 'string' },
  'nats-key': { type: 'string' },
  'nats-tls-server-name': { type: 'string' },
} as const;

export const NATS_FLAGS_HELP = `NATS connection (each overrides the config's "nats" section and NATS_* variables):
  --nats <url>                   server URL(s), comma-separated for a cluster;
                                 nats://user:password@host or nats://token@host work too
  --nats-user <name>             user name (password from --nats-password-file, NATS_PASSWORD
                                 or the config)
  --nats-password-file <file>    file holding the password
  --nats-token-file <file>       file holding the token
  --nats-nkey <file>             file holding the user's nkey seed (SU...)
  --nats-creds <file>            credentials file (.creds: user JWT + nkey seed)
  --nats-ca <file>               CA certificate (PEM) the server's certificate must chain to
  --nats-cert <file>             client certificate (PEM), with --nats-key
  --nats-key <file>              client private key (PEM)
  --nats-tls-server-name <name>  name the server's certificate must carry`;

type FlagValues = Partial<Record<keyof typeof NATS_FLAGS, string | boolean | undefined>>;

/** The config override the flags make, or undefined when none is given. */
export function natsOverrides(values: FlagValues): Record<string, unknown> | undefined {
  const str = (k: keyof typeof NATS_FLAGS) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const out: Record<string, unknown> = {};
  const set = (key: string, flag: keyof typeof NATS_FLAGS) => {
    const v = str(flag);
    if (v !== undefined) out[key] = v;
  };
  set('url', 'nats');
  set('user', 'nats-user');
  set('passwordFile', 'nats-password-file');
  set('tokenFile', 'nats-token-file');
  set('nkeySeedFile', 'nats-nkey');
  set('credentials', 'nats-creds');
  const tls: Record<string, string> = {};
  for (const [key, flag] of [
    ['ca', 'nats-ca'],
    ['cert', 'nats-cert'],
    ['key', 'nats-key'],
    ['serverName', 'nats-tls-server-name'],
  ] as const) {
    const v = str(flag);
    if (v !== undefined) tls[key] = v;
  }
  if (Object.keys(tls).length > 0) out.tls = tls;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** What `connectNatsTransport` needs from a loaded config: the URL and the security options. */
export function natsConnectOptions(config: RingkvConfig): { url: string } & NatsSecurityOptions {
  const { subjectCheckIntervalMs: _interval, coalesceWrites: _coalesce, ...connection } = config.nats;
  return connection;
}
