/**
 * Decentralised NATS auth for tests, without the `nsc` tool: an operator, an account and a
 * user as nkeys (from the `nats` package's nkeys), their JWTs signed here, the nats-server
 * config that trusts them (resolver MEMORY) and the user's `.creds` file.
 *
 * @example
 * const jwt = makeOperatorSetup();
 * startNatsServer({ config: jwt.serverConfig });
 * writeFileSync('user.creds', jwt.creds);
 */
import { createHash } from 'node:crypto';
import { nkeys } from 'nats';

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const b64url = (data: Uint8Array | string) => Buffer.from(data).toString('base64url');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(data: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function sign(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats };
  claims.jti = base32(createHash('sha256').update(JSON.stringify(claims)).digest());
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const body = b64url(JSON.stringify(claims));
  const signature = issuer.sign(new TextEncoder().encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(signature)}`;
}

export interface OperatorSetup {
  /** nats-server config lines: operator, resolver, preloaded account. */
  readonly serverConfig: string;
  /** The user's credentials file content. */
  readonly creds: string;
  /** The user's seed (it is in `creds`): tests check it is never printed. */
  readonly userSeed: string;
  /** Credentials of a user signed by an account the server does not know. */
  readonly strangerCreds: string;
}

function credsFile(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
}

export function makeOperatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const stranger = nkeys.createAccount();
  const operatorJwt = sign(operator, operator.getPublicKey(), 'ringkv-test-operator', { type: 'operator', version: 2 });
  const accountClaims = {
    limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
    default_permissions: { pub: {}, sub: {} },
    type: 'account',
    version: 2,
  };
  const accountJwt = sign(operator, account.getPublicKey(), 'ringkv', accountClaims);
  const userClaims = { pub: {}, sub: {}, subs: -1, data: -1, payload: -1, type: 'user', version: 2 };
  const user = nkeys.createUser();
  const userSeed = new TextDecoder().decode(user.getSeed());
  const other = nkeys.createUser();
  return {
    serverConfig: [
      `operator: ${operatorJwt}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${account.getPublicKey()}: ${accountJwt}`,
      '}',
    ].join('\n'),
    creds: credsFile(sign(account, user.getPublicKey(), 'ringkv-node', userClaims), userSeed),
    userSeed,
    strangerCreds: credsFile(sign(stranger, other.getPublicKey(), 'stranger', userClaims), new TextDecoder().decode(other.getSeed())),
  };
}
