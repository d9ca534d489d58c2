/**
 * Turns ringkv's NATS security options (core's `NatsSecurityOptions`: user and password,
 * token, nkey seed, credentials file, TLS) into the nats client's connection options, reading
 * the files they name. Every error names the option and the file, never a secret; `describe`
 * says how the connection authenticates in words fit for a log line.
 *
 * @example
 * const { options, describe } = await securityConnectOptions({ user: 'foo', passwordFile: '/run/secrets/foo' });
 * await connect({ servers, ...options });
 * describe; // 'as user "foo" with a password'
 */
import { readFile } from 'node:fs/promises';
import {
  ArgumentError,
  ConfigError,
  natsSecurityProblems,
  revealSecret,
  splitNatsUrlCredentials,
  type NatsSecurityOptions,
} from '@ringkv/core';
import { credsAuthenticator, ErrorCode, nkeyAuthenticator, nkeys, type ConnectionOptions, type NatsError } from 'nats';

export interface SecurityConnectOptions {
  options: Partial<ConnectionOptions>;
  /** How this connection proves who it is, e.g. `as user "foo" with a password; TLS with client certificate`. */
  describe: string;
}

async function readOption(field: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`nats.${field}: cannot read ${path}: ${e.code ?? e.message}`, { cause: err });
  }
}

/** The first line of a secret file, without its line ending (files written by `echo` end in one). */
async function readSecretFile(field: string, path: string): Promise<string> {
  const text = (await readOption(field, path)).toString('utf8');
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (line === '') throw new ConfigError(`nats.${field}: ${path} is empty`);
  return line;
}

/** Finds the user seed in an nkey file or text: the `SU...` line (comments and blank lines allowed). */
function userSeed(field: string, where: string, text: string): Uint8Array {
  const seed = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith('SU'));
  if (!seed) throw new ConfigError(`nats.${field}: ${where} holds no user nkey seed (a line starting with SU)`);
  const bytes = new TextEncoder().encode(seed);
  try {
    nkeys.fromSeed(bytes);
  } catch {
    throw new ConfigError(`nats.${field}: ${where} holds a malformed nkey seed`);
  }
  return bytes;
}

export async function securityConnectOptions(o: NatsSecurityOptions): Promise<SecurityConnectOptions> {
  const options: Partial<ConnectionOptions> = {};
  const words: string[] = [];

  if (o.user !== undefined) {
    options.user = o.user;
    if (o.password !== undefined) options.pass = revealSecret(o.password);
    else if (o.passwordFile !== undefined) options.pass = await readSecretFile('passwordFile', o.passwordFile);
    words.push(`as user ${JSON.stringify(o.user)}${options.pass !== undefined ? ' with a password' : ''}`);
  } else if (o.token !== undefined || o.tokenFile !== undefined) {
    options.token = o.token !== undefined ? revealSecret(o.token) : await readSecretFile('tokenFile', o.tokenFile!);
    words.push('with a token');
  } else if (o.nkeySeed !== undefined || o.nkeySeedFile !== undefined) {
    const seed =
      o.nkeySeed !== undefined
        ? userSeed('nkeySeed', 'the value', revealSecret(o.nkeySeed))
        : userSeed('nkeySeedFile', o.nkeySeedFile!, (await readOption('nkeySeedFile', o.nkeySeedFile!)).toString('utf8'));
    options.authenticator = nkeyAuthenticator(seed);
    // The public key is not secret: it is what the server's config names.
    words.push(`with nkey ${nkeys.fromSeed(seed).getPublicKey()}`);
  } else if (o.credentials !== undefined) {
    const creds = await readOption('credentials', o.credentials);
    const text = creds.toString('utf8');
    if (!/-----BEGIN NATS USER JWT-----/.test(text)) {
      throw new ConfigError(`nats.credentials: ${o.credentials} is not a NATS credentials file (no "BEGIN NATS USER JWT" block)`);
    }
    userSeed('credentials', o.credentials, text);
    options.authenticator = credsAuthenticator(new Uint8Array(creds));
    words.push(`with credentials file ${o.credentials}`);
  }

  if (o.tls) {
    const tls: NonNullable<ConnectionOptions['tls']> & { servername?: string } = {};
    if (o.tls.ca !== undefined) tls.ca = (await readOption('tls.ca', o.tls.ca)).toString('utf8');
    if (o.tls.cert !== undefined) tls.cert = (await readOption('tls.cert', o.tls.cert)).toString('utf8');
    if (o.tls.key !== undefined) tls.key = (await readOption('tls.key', o.tls.key)).toString('utf8');
    if (o.tls.serverName !== undefined) tls.servername = o.tls.serverName;
    options.tls = tls;
    words.push(
      `over TLS${tls.cert !== undefined ? ' with a client certificate' : ''}${tls.ca !== undefined ? `, trusting the CA in ${o.tls.ca}` : ''}`,
    );
  }
  return { options, describe: words.length > 0 ? words.join('; ') : 'without credentials' };
}

const AUTH_FIELDS = ['user', 'password', 'passwordFile', 'token', 'tokenFile', 'nkeySeed', 'nkeySeedFile', 'credentials'] as const;

/**
 * The server URLs of `url` and the security options of `options` (its other fields are
 * ignored), with credentials written into the URL moved out of it. Used by every connection
 * ringkv opens (the transport, the cluster state), so each authenticates the same way.
 */
export function natsSecurityOf(
  url: string | readonly string[],
  options: NatsSecurityOptions,
): { servers: string[]; security: NatsSecurityOptions } {
  const security: NatsSecurityOptions = {};
  for (const f of [...AUTH_FIELDS, 'tls'] as const) if (options[f] !== undefined) (security as Record<string, unknown>)[f] = options[f];
  const fromUrl = splitNatsUrlCredentials(url);
  if (fromUrl.user !== undefined || fromUrl.token !== undefined) {
    if (AUTH_FIELDS.some((f) => security[f] !== undefined)) {
      throw new ArgumentError('the NATS url carries credentials and other credentials are given too: give them once');
    }
    if (fromUrl.user !== undefined) security.user = fromUrl.user;
    if (fromUrl.password !== undefined) security.password = fromUrl.password;
    if (fromUrl.token !== undefined) security.token = fromUrl.token;
  }
  const problems = natsSecurityProblems(security);
  if (problems.length > 0) throw new ArgumentError(problems.map((p) => p.message).join('; '));
  return { servers: fromUrl.urls, security };
}

/** What to tell the operator when the first connection fails: how it authenticated, never with what. */
export function connectFailure(err: unknown, where: string, auth: string): string {
  const e = err as NatsError;
  if (e?.code === ErrorCode.AuthorizationViolation) {
    return auth === 'without credentials'
      ? `cannot connect to NATS at ${where}: the server requires credentials (Authorization Violation) and none were given; set nats.user and nats.password, nats.token, nats.nkeySeedFile or nats.credentials`
      : `cannot connect to NATS at ${where}: the server refused the credentials (Authorization Violation; this connection authenticates ${auth})`;
  }
  return `cannot connect to NATS at ${where} (${auth}): ${e?.message ?? String(err)}`;
}
