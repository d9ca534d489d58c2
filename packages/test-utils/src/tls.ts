/**
 * Certificates for TLS tests, made on the spot with `openssl` (Debian package `openssl`; CI
 * installs it): a CA, a server certificate for `serverName` (and, unless told otherwise,
 * 127.0.0.1), and a client certificate for mutual TLS. EC P-256 keys: fast to make.
 *
 * @example
 * const certs = makeTestCertificates({ serverName: 'nats.ringkv.test' });
 * startNatsServer({ scheme: 'tls', config: natsTlsConfig(certs) });
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second CA that signed nothing here: trusting it must fail. */
  readonly otherCa: string;
}

export function hasOpenssl(): boolean {
  const r = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(cwd: string, name: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], cwd);
}

function selfSignedCa(cwd: string, name: string, cn: string): void {
  newKey(cwd, `${name}.key`);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`], cwd);
}

function signed(cwd: string, name: string, cn: string, ext: string): void {
  newKey(cwd, `${name}.key`);
  openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], cwd);
  writeFileSync(join(cwd, `${name}.ext`), ext);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    cwd,
  );
}

export function makeTestCertificates(options: { serverName?: string; withIp?: boolean } = {}): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-tls-'));
  const serverName = options.serverName ?? 'localhost';
  selfSignedCa(dir, 'ca', 'ringkv test CA');
  selfSignedCa(dir, 'other-ca', 'some other CA');
  const san = [`DNS:${serverName}`, ...(options.withIp === false ? [] : ['IP:127.0.0.1'])].join(',');
  signed(dir, 'server', serverName, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  signed(dir, 'client', 'ringkv test client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    otherCa: join(dir, 'other-ca.pem'),
  };
}

/** The nats-server `tls` block for `certs`; `verify` asks clients for a certificate too. */
export function natsTlsConfig(certs: TestCertificates, { verify = true } = {}): string {
  return [
    'tls {',
    `  cert_file: ${JSON.stringify(certs.serverCert)}`,
    `  key_file: ${JSON.stringify(certs.serverKey)}`,
    `  ca_file: ${JSON.stringify(certs.ca)}`,
    `  verify: ${verify}`,
    '  timeout: 5',
    '}',
  ].join('\n');
}
