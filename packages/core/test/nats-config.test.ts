import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  parseConfig,
  redactNatsUrl,
  Secret,
  splitNatsUrlCredentials,
} from '../src/index.js';

const PW = 'pa:ss@w0rd/é';

describe('nats config: credentials', () => {
  it('moves user and password out of the URL (percent-decoded), for every server of a cluster', () => {
    const url = `nats://ana:${encodeURIComponent(PW)}@10.0.0.1:4222, nats://ana:${encodeURIComponent(PW)}@10.0.0.2:4222`;
    const { nats } = parseConfig({ nats: { url } });
    expect(nats.url).toBe('nats://10.0.0.1:4222,nats://10.0.0.2:4222');
    expect(nats.user).toBe('ana');
    expect(nats.password).toBeInstanceOf(Secret);
    expect((nats.password as Secret).reveal()).toBe(PW);
  });

  it('reads nats://token@host as a token, and leaves URLs without credentials alone', () => {
    expect((parseConfig({ nats: { url: 'tls://s3cr3t@h:4443' } }).nats.token as Secret).reveal()).toBe('s3cr3t');
    expect(parseConfig({ nats: { url: 'nats://h:1' } }).nats).toEqual({ url: 'nats://h:1' });
    expect(splitNatsUrlCredentials('h:4222')).toEqual({ urls: ['h:4222'] });
  });

  it('never shows a secret: JSON, inspect, String and template literals print [redacted]', () => {
    const config = parseConfig({ nats: { url: `nats://ana:${encodeURIComponent(PW)}@h:1` } });
    const token = parseConfig({ nats: { token: 'tok-123456' } });
    const seed = parseConfig({ nats: { nkeySeed: 'SUAseed-value' } });
    for (const c of [config, token, seed]) {
      const dumps = [
        JSON.stringify(c),
        inspect(c, { depth: 10 }),
        `${String(c.nats.password)} ${String(c.nats.token)}`,
        `${c.nats.nkeySeed as unknown as string}`,
      ];
      for (const dump of dumps) {
        expect(dump).not.toContain(PW);
        expect(dump).not.toContain('tok-123456');
        expect(dump).not.toContain('SUAseed-value');
      }
    }
    expect(JSON.stringify(token.nats)).toBe('{"url":"nats://127.0.0.1:4222","token":"[redacted]"}');
  });

  it('refuses conflicting or incomplete settings, naming fields and never values', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ url: `nats://ana:${PW}x@h`, user: 'bob' }, /nats\.url: carries credentials, and nats\.user is set too: give them once/],
      [
        { token: 'tok-1', user: 'ana', password: 'pw-1' },
        /nats: choose one way to authenticate, got user\/password \(nats\.user, nats\.password\) and token \(nats\.token\)/,
      ],
      [{ password: 'pw-1' }, /nats\.user: a password needs a user name \(nats\.user\)/],
      [{ token: 'tok-1', tokenFile: '/t' }, /nats\.tokenFile: give nats\.token or nats\.tokenFile, not both/],
      [{ tls: { cert: '/c.pem' } }, /nats\.tls: a client certificate needs both nats\.tls\.cert and nats\.tls\.key/],
      [
        { url: 'nats://a:x@h:1,nats://a:y@h:2' },
        /nats\.url: the servers in the NATS url carry different credentials \(server 2 differs\); give one set/,
      ],
      [{ url: 'nats://a:%zz@h' }, /nats\.url: the password in the NATS url is not valid percent-encoding/],
      [{ password: 42 }, /nats\.password: /],
      [{ tls: { ca: 'x', extra: 1 } }, /nats\.tls: .*extra/],
    ];
    for (const [nats, message] of cases) {
      let err: unknown;
      try {
        parseConfig({ nats });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(nats)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      for (const secret of ['pw-1', 'tok-1', `${PW}x`, 'a:x', 'a:y', '%zz']) expect((err as Error).message).not.toContain(secret);
    }
  });

  it('takes NATS_* environment variables, the same names as the nats tool', () => {
    const c = loadConfig({
      configDir: mkdtempSync(join(tmpdir(), 'ringkv-nats-env-')),
      env: { NATS_URL: 'nats://h:1', NATS_USER: 'ana', NATS_PASSWORD: PW, NATS_CA: '/ca.pem', NATS_CERT: '/c.pem', NATS_KEY: '/k.pem' },
    });
    expect(c.nats.user).toBe('ana');
    expect((c.nats.password as Secret).reveal()).toBe(PW);
    expect(c.nats.tls).toEqual({ ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' });
    const t = loadConfig({ configDir: mkdtempSync(join(tmpdir(), 'ringkv-nats-env-')), env: { NATS_TOKEN: 'tok', NATS_NKEY: '' } });
    expect((t.nats.token as Secret).reveal()).toBe('tok');
    expect(t.nats.nkeySeedFile).toBeUndefined();
  });

  it('redacts URLs for printing', () => {
    expect(redactNatsUrl('nats://a:b@h:1,tls://tok@h:2, h:3')).toBe('nats://***@h:1,tls://***@h:2,h:3');
  });

  it('reports a config file that is not JSON by position, never quoting it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringkv-nats-json-'));
    for (const text of [
      '{"nats": {"password": hunter2-secret}}',
      '{"nats": {"password": "hunter2-secret" "x": 1}}',
      '{"nats": {"password": "hunter2-secret',
    ]) {
      writeFileSync(join(dir, 'bad.json'), text);
      let err: unknown;
      try {
        loadConfig({ file: join(dir, 'bad.json'), env: {} });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).toMatch(/is not valid JSON/);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
