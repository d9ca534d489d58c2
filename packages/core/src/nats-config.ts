/**
 * The `nats` section of the configuration: where the NATS servers are and how a node proves
 * who it is to them (user and password, token, nkey seed, credentials file, TLS client
 * certificate). Secrets are held as {@link Secret}, so a printed or serialised config shows
 * `[redacted]`; credentials written into the URL (`nats://user:pass@host`, `nats://token@host`)
 * are moved out of it at load, so `nats.url` itself never carries a secret.
 *
 * Relative file paths resolve against the process's working directory.
 *
 * @example
 * parseConfig({ nats: { url: 'nats://ana:s3cret@127.0.0.1:4222' } }).nats;
 * // { url: 'nats://127.0.0.1:4222', user: 'ana', password: Secret([redacted]) }
 */
import { z } from 'zod';
import { DEFAULT_NATS_URL } from './defaults.js';
import { ArgumentError } from './errors.js';
import { Secret } from './secret.js';

const secret = z
  .string()
  .min(1)
  .transform((s) => new Secret(s));
const file = z.string().min(1);

const natsTlsSchema = z
  .object({
    /** PEM file of the certificate authority that signed the server's certificate. */
    ca: file.optional(),
    /** PEM file of this client's certificate (servers with `verify: true`); needs `key`. */
    cert: file.optional(),
    /** PEM file of this client's private key; needs `cert`. */
    key: file.optional(),
    /** Name the server's certificate must carry, when it differs from the URL's host. */
    serverName: z.string().min(1).optional(),
  })
  .strict();

const natsObject = z
  .object({
    /** Server URL(s), comma-separated for a cluster. @default "nats://127.0.0.1:4222" */
    url: z.string().min(1).default(DEFAULT_NATS_URL),
    /** User name (with `password` or `passwordFile`). */
    user: z.string().min(1).optional(),
    password: secret.optional(),
    /** File holding the password (first line). */
    passwordFile: file.optional(),
    token: secret.optional(),
    /** File holding the token (first line). */
    tokenFile: file.optional(),
    /** nkey seed of a user (`SU...`). */
    nkeySeed: secret.optional(),
    /** File holding the nkey seed (as written by `nk -gen user`). */
    nkeySeedFile: file.optional(),
    /** Credentials file (`.creds`: user JWT and nkey seed, decentralised auth). */
    credentials: file.optional(),
    tls: natsTlsSchema.optional(),
    /**
     * How often a node checks that no other process answers on its subjects, ms.
     * @default 10000
     */
    subjectCheckIntervalMs: z.number().int().positive().max(3_600_000).optional(),
    /**
     * Send the requests and replies of one event-loop turn together, in one socket write
     * (measured: no gain on the ring, whose replica messages are batched per turn already).
     * @default false
     */
    coalesceWrites: z.boolean().optional(),
  })
  .strict();

export type NatsTlsConfig = z.output<typeof natsTlsSchema>;

/** What a NATS connection authenticates with (secrets as plain strings or {@link Secret}). */
export interface NatsSecurityOptions {
  user?: string;
  password?: string | Secret;
  passwordFile?: string;
  token?: string | Secret;
  tokenFile?: string;
  nkeySeed?: string | Secret;
  nkeySeedFile?: string;
  credentials?: string;
  tls?: NatsTlsConfig;
}

/** The ways of authenticating, each with the fields that belong to it (at most one is used). */
const AUTH_METHODS = [
  ['user/password', ['user', 'password', 'passwordFile']],
  ['token', ['token', 'tokenFile']],
  ['nkey', ['nkeySeed', 'nkeySeedFile']],
  ['credentials file', ['credentials']],
] as const;

/** The `nats` config section: validated, URL credentials moved into their own fields. */
export const natsConfigSchema = natsObject.transform((section, ctx) => {
  let fromUrl: UrlCredentials;
  try {
    fromUrl = splitNatsUrlCredentials(section.url);
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: (err as Error).message });
    return z.NEVER;
  }
  const out: typeof section = { ...section, url: fromUrl.urls.join(',') };
  if (fromUrl.user !== undefined || fromUrl.token !== undefined) {
    const given = AUTH_METHODS.flatMap(([, fields]) => fields.filter((f) => section[f] !== undefined));
    if (given.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: `carries credentials, and ${given.map((f) => `nats.${f}`).join(', ')} ${given.length === 1 ? 'is' : 'are'} set too: give them once`,
      });
      return z.NEVER;
    }
    if (fromUrl.user !== undefined) out.user = fromUrl.user;
    if (fromUrl.password !== undefined) out.password = new Secret(fromUrl.password);
    if (fromUrl.token !== undefined) out.token = new Secret(fromUrl.token);
  }
  for (const problem of natsSecurityProblems(out)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  return out;
});

export type NatsConfig = z.output<typeof natsConfigSchema>;

/** What is wrong with a set of security options (empty when fine); never quotes a value. */
export function natsSecurityProblems(o: NatsSecurityOptions): Array<{ path: string[]; message: string }> {
  const problems: Array<{ path: string[]; message: string }> = [];
  const used = AUTH_METHODS.filter(([, fields]) => fields.some((f) => o[f] !== undefined));
  if (used.length > 1) {
    problems.push({
      path: [],
      message: `choose one way to authenticate, got ${used
        .map(
          ([m, fields]) =>
            `${m} (${fields
              .filter((f) => o[f] !== undefined)
              .map((f) => `nats.${f}`)
              .join(', ')})`,
        )
        .join(' and ')}`,
    });
  }
  const pairs = [
    ['password', 'passwordFile'],
    ['token', 'tokenFile'],
    ['nkeySeed', 'nkeySeedFile'],
  ] as const;
  for (const [a, b] of pairs) {
    if (o[a] !== undefined && o[b] !== undefined) problems.push({ path: [b], message: `give nats.${a} or nats.${b}, not both` });
  }
  if ((o.password !== undefined || o.passwordFile !== undefined) && o.user === undefined) {
    problems.push({ path: ['user'], message: 'a password needs a user name (nats.user)' });
  }
  if (o.tls && (o.tls.cert === undefined) !== (o.tls.key === undefined)) {
    problems.push({ path: ['tls'], message: 'a client certificate needs both nats.tls.cert and nats.tls.key' });
  }
  return problems;
}

export interface UrlCredentials {
  /** The server URLs without credentials. */
  urls: string[];
  user?: string;
  password?: string;
  token?: string;
}

// scheme://userinfo@rest, the scheme optional (nats.js accepts "host:port").
const URL_PARTS = /^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)(?:([^@/]*)@)?(.*)$/s;

/**
 * Splits credentials out of NATS server URLs: `nats://user:pass@host` gives a user and a
 * password, `nats://token@host` a token (percent-decoded, as in any URL). Every URL of a
 * cluster list must carry the same credentials or none. Throws {@link ArgumentError} naming
 * the position of a bad URL, never its text (it may hold a password).
 */
export function splitNatsUrlCredentials(url: string | readonly string[]): UrlCredentials {
  const list = (typeof url === 'string' ? url.split(',') : [...url]).map((u) => String(u).trim()).filter((u) => u !== '');
  if (list.length === 0) throw new ArgumentError('NATS url must name at least one server');
  const urls: string[] = [];
  let userinfo: string | undefined;
  list.forEach((u, i) => {
    const m = URL_PARTS.exec(u)!;
    const info = m[2];
    urls.push(`${m[1]}${m[3]}`);
    if (info === undefined) return;
    if (userinfo !== undefined && info !== userinfo) {
      throw new ArgumentError(`the servers in the NATS url carry different credentials (server ${i + 1} differs); give one set`);
    }
    userinfo = info;
  });
  if (userinfo === undefined) return { urls };
  const decode = (s: string, what: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new ArgumentError(`the ${what} in the NATS url is not valid percent-encoding`);
    }
  };
  const colon = userinfo.indexOf(':');
  if (colon < 0) {
    const token = decode(userinfo, 'token');
    return token === '' ? { urls } : { urls, token };
  }
  const user = decode(userinfo.slice(0, colon), 'user name');
  if (user === '') throw new ArgumentError('the NATS url has a password but no user name (nats://user:password@host)');
  return { urls, user, password: decode(userinfo.slice(colon + 1), 'password') };
}

/** A NATS url list fit to print: credentials replaced by `***`. */
export function redactNatsUrl(url: string | readonly string[]): string {
  const list = typeof url === 'string' ? url.split(',') : [...url];
  return list
    .map((u) => {
      const m = URL_PARTS.exec(String(u).trim())!;
      return m[2] === undefined ? `${m[1]}${m[3]}` : `${m[1]}***@${m[3]}`;
    })
    .join(',');
}

/**
 * The `nats` section from the environment: `NATS_URL`, and the names the `nats` command-line
 * tool uses: `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_NKEY` (seed file),
 * `NATS_CREDS`, `NATS_CA`, `NATS_CERT`, `NATS_KEY`.
 */
export function natsEnvOverrides(env: Record<string, string | undefined>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const set = (key: string, name: string) => {
    const v = env[name];
    if (v !== undefined && v !== '') out[key] = v;
  };
  set('url', 'NATS_URL');
  set('user', 'NATS_USER');
  set('password', 'NATS_PASSWORD');
  set('token', 'NATS_TOKEN');
  set('nkeySeedFile', 'NATS_NKEY');
  set('credentials', 'NATS_CREDS');
  const tls: Record<string, string> = {};
  for (const [key, name] of [
    ['ca', 'NATS_CA'],
    ['cert', 'NATS_CERT'],
    ['key', 'NATS_KEY'],
  ] as const) {
    const v = env[name];
    if (v !== undefined && v !== '') tls[key] = v;
  }
  if (Object.keys(tls).length > 0) out.tls = tls;
  return Object.keys(out).length > 0 ? out : undefined;
}
