/**
 * How connection options are checked before any connection is tried: credentials given twice,
 * files that are missing or hold the wrong thing. Every message names the option and the file,
 * never a secret.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArgumentError, ConfigError, Secret } from '@ringkv/core';
import { connectNatsTransport } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-connect-options-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
// Nothing listens on port 1: a check that let the options through would fail to connect instead.
const url = 'nats://127.0.0.1:1';

describe('NATS connection options', () => {
  it('refuses credentials given both in the URL and as options', async () => {
    for (const extra of [{ user: 'u', password: new Secret('opt-pw-1') }, { token: 'opt-tok-1' }, { credentials: '/x.creds' }]) {
      const err = await connectNatsTransport({ url: 'nats://ana:url-pw-1@127.0.0.1:1', ...extra }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArgumentError);
      expect((err as Error).message).toBe('the NATS url carries credentials and other credentials are given too: give them once');
    }
  });

  it('refuses two ways of authenticating', async () => {
    const err = await connectNatsTransport({ url, token: 'tok-2', nkeySeed: 'SUxyz' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toBe('choose one way to authenticate, got token (nats.token) and nkey (nats.nkeySeed)');
  });

  it('names the option and the file when a file is missing, empty or holds the wrong thing', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ user: 'u', passwordFile: join(dir, 'missing') }, `nats.passwordFile: cannot read ${join(dir, 'missing')}: ENOENT`],
      [{ tokenFile: file('empty', '\n') }, `nats.tokenFile: ${join(dir, 'empty')} is empty`],
      [
        { nkeySeedFile: file('not-a-seed', 'hello-secret-3\n') },
        `nats.nkeySeedFile: ${join(dir, 'not-a-seed')} holds no user nkey seed (a line starting with SU)`,
      ],
      [{ nkeySeedFile: file('bad-seed', 'SUAAAAsecret4\n') }, `nats.nkeySeedFile: ${join(dir, 'bad-seed')} holds a malformed nkey seed`],
      [
        { credentials: file('no-jwt.creds', 'SUAAAAsecret5\n') },
        `nats.credentials: ${join(dir, 'no-jwt.creds')} is not a NATS credentials file (no "BEGIN NATS USER JWT" block)`,
      ],
      [{ tls: { ca: join(dir, 'no-ca.pem') } }, `nats.tls.ca: cannot read ${join(dir, 'no-ca.pem')}: ENOENT`],
    ];
    for (const [options, message] of cases) {
      const err = await connectNatsTransport({ url, ...options }).catch((e: unknown) => e);
      expect(err, message).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(message);
      expect((err as Error).message).not.toMatch(/secret\d/);
    }
  });
});
