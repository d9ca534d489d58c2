/**
 * The packages as someone else's project gets them from npm: every package under packages/ is
 * packed, each tarball is checked (contents, publint, attw), then a fresh project outside the
 * repo installs the tarballs (no workspace links, no path imports), type-checks a program using
 * all of them under `strict`, runs it with plain node, and runs the installed `ringkv` command.
 *
 * Needs the packages built (`npm test` builds first) and the npm registry for third-party
 * dependencies (zod, nats, msgpackr, hashring, ioredis, @types/node; from the cache when there).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packPackages, publishablePackages, repoRoot, type PackedPackage } from './pack.js';
import { checkPackedContents, runAttw, runPublint } from './package-lint.js';

const root = repoRoot();
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The packages the issue names; a package missing here (or turned private) fails the suite. */
const EXPECTED = ['@ringkv/core', '@ringkv/http', '@ringkv/nats', '@ringkv/ring', '@ringkv/server', '@ringkv/sim', '@ringkv/store', 'ringkv'];
const packageNames = publishablePackages(root).map((p) => p.manifest.name);

let work = '';
let packed: PackedPackage[] = [];
const packedOf = (name: string): PackedPackage => {
  const found = packed.find((p) => p.manifest.name === name);
  if (!found) throw new Error(`${name} was not packed`);
  return found;
};

/**
 * Environment for npm in the consumer project: npm_* variables set by the outer `npm test`
 * (workspace, prefix, package paths) would make the inner npm act on the monorepo instead.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) || /^npm_config_(cache|registry|userconfig)$/i.test(k)) env[k] = v;
  }
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeout = 180_000): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

/** The ```ts blocks of a README. */
function readmeExamples(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** TypeScript to JavaScript by stripping types only (the type-check is its own test). */
function transpile(source: string): string {
  return ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  }).outputText;
}

const transcript = (r: SpawnSyncReturns<string>) => `exit ${r.status ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ringkv-consumer-'));
  packed = packPackages(root, join(work, 'tarballs'));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it('cover every package ringkv publishes', () => {
    expect(packageNames).toEqual(expect.arrayContaining(EXPECTED));
    expect(packed.map((p) => p.manifest.name).sort()).toEqual([...packageNames].sort());
  });

  for (const name of packageNames) {
    describe(name, () => {
      it('holds no tests, no source maps pointing nowhere, nothing from outside the package, only declared imports', () => {
        expect(checkPackedContents(packedOf(name))).toEqual([]);
      }, 60_000);

      it('passes publint', async () => {
        const { failures } = await runPublint(packedOf(name));
        expect(failures).toEqual([]);
      }, 60_000);

      it('passes attw (esm-only profile)', () => {
        const attw = runAttw(packedOf(name));
        expect(attw.ok, attw.output).toBe(true);
      }, 120_000);
    });
  }
});

describe('a fresh project installing the tarballs', () => {
  let project = '';
  /** Library packages whose README has no ```ts example. */
  const withoutExample: string[] = [];

  beforeAll(() => {
    project = join(work, 'project');
    mkdirSync(project);
    const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const dependencies: Record<string, string> = Object.fromEntries(packed.map((p) => [p.manifest.name, `file:${p.tarball}`]));
    dependencies['@types/node'] = rootManifest.devDependencies['@types/node'] ?? '^20.19.0';
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'ringkv-consumer', version: '1.0.0', private: true, type: 'module', dependencies }, null, 2)}\n`,
    );
    copyFileSync(join(here, 'project', 'app.ts'), join(project, 'app.ts'));
    copyFileSync(join(here, 'project', 'tsconfig.json'), join(project, 'tsconfig.json'));
    const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project, 240_000);
    if (install.status !== 0) throw new Error(`npm install in the consumer project failed:\n${transcript(install)}`);
    // The README each package ships (what npm shows) must hold examples that compile: its ts blocks join the type-check.
    mkdirSync(join(project, 'readme'));
    for (const p of packed) {
      const readme = readFileSync(join(project, 'node_modules', p.manifest.name, 'README.md'), 'utf8');
      const examples = readmeExamples(readme);
      if (examples.length === 0 && p.manifest.bin === undefined) withoutExample.push(p.manifest.name);
      examples.forEach((code, i) => {
        writeFileSync(join(project, 'readme', `${p.manifest.name.replace(/[@/]/g, '-').replace(/^-/, '')}-${i + 1}.ts`), code);
      });
    }
    // So must the library examples of docs/getting-started.md.
    readmeExamples(readFileSync(join(root, 'docs', 'getting-started.md'), 'utf8')).forEach((code, i) => {
      writeFileSync(join(project, 'readme', `getting-started-${i + 1}.ts`), code);
    });
  }, 250_000);

  it('gets every ringkv package from its tarball, one copy each, none from the registry or the repo', () => {
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; link?: boolean }>;
    };
    const problems: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const name = path.replace(/^.*node_modules\//, '');
      if (!packageNames.includes(name)) continue;
      if (path !== `node_modules/${name}`) problems.push(`${path}: a second copy of ${name}`);
      if (entry.link) problems.push(`${path}: a link, not an installed copy`);
      const tarball = packedOf(name).tarball;
      const from = entry.resolved?.startsWith('file:') ? resolve(project, entry.resolved.slice('file:'.length)) : entry.resolved;
      if (from !== tarball) problems.push(`${path}: resolved from ${entry.resolved ?? '(nothing)'}, expected the tarball ${tarball}`);
    }
    for (const name of packageNames) {
      if (!lock.packages[`node_modules/${name}`]) problems.push(`${name} is not installed`);
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('type-checks a program importing every package, the README examples and getting-started.md, with tsc --noEmit under strict', () => {
    expect(withoutExample, 'library READMEs need a ```ts example').toEqual([]);
    expect(readdirSync(join(project, 'readme')).length).toBeGreaterThanOrEqual(packed.length - 1);
    const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
    const r = run(process.execPath, [tsc, '--noEmit', '-p', join(project, 'tsconfig.json')], project);
    expect(r.status, transcript(r)).toBe(0);
  }, 120_000);

  it('runs it with plain node: an in-process route, the store, the server, the ring', () => {
    writeFileSync(join(project, 'app.js'), transpile(readFileSync(join(project, 'app.ts'), 'utf8')));
    const r = run(process.execPath, ['app.js'], project, 60_000);
    expect(r.status, transcript(r)).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(out).toMatchObject({
      hello: 'foo@computer-name',
      world: 'hello ana from bar@computer-name',
      server: ['OK\r\n', 'OK\r\n', '3\r\nOK\r\n'],
      transport: 'in-process',
      cliUsage: 'ringkv: a Riak-style distributed key-value store',
    });
    expect(out.noEntry).toMatch(/^could not find entry for "\\u0000" in table \[/);
    expect(['foo@computer-name', 'bar@computer-name']).toContain(out.ringOwner);
    expect(out.natsSubject).toEqual(expect.any(String));
    const simulated = out.simulated as [string, number][];
    expect(simulated.map(([kind]) => kind)).toEqual(['range', 'ring']);
    for (const [, fraction] of simulated) expect(fraction).toBeGreaterThan(0);
  }, 90_000);

  it('runs the documented in-process examples with plain node', () => {
    // The examples that need no NATS server and no fixed port; the others are type-checked only.
    const runnable = ['getting-started-1', 'getting-started-2', 'getting-started-3', 'ringkv-core-1', 'ringkv-store-1', 'ringkv-ring-1', 'ringkv-http-1'];
    const failures: string[] = [];
    for (const name of runnable) {
      const file = join(project, 'readme', `${name}.ts`);
      if (!existsSync(file)) {
        failures.push(`${name}: no such example (a README or getting-started.md lost a ts block?)`);
        continue;
      }
      writeFileSync(join(project, 'readme', `${name}.js`), transpile(readFileSync(file, 'utf8')));
      const r = run(process.execPath, [join('readme', `${name}.js`)], project, 30_000);
      if (r.status !== 0) failures.push(`${name}: ${transcript(r)}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('can be require()d from CommonJS on Node >= 20.19 (ESM-only packages, no top-level await)', () => {
    const script = `for (const name of ${JSON.stringify(packageNames)}) {
      const exported = Object.keys(require(name));
      if (exported.length === 0) throw new Error(name + ' exports nothing through require()');
    }`;
    const r = run(process.execPath, ['--no-warnings', '-e', script], project, 30_000);
    expect(r.status, transcript(r)).toBe(0);
  }, 60_000);

  it('runs the installed command: npx ringkv --help and --version', () => {
    const bin = join(project, 'node_modules', '.bin', 'ringkv');
    expect(existsSync(bin), `${bin} was not linked by npm install`).toBe(true);
    const help = run('npx', ['--no', '--', 'ringkv', '--help'], project, 60_000);
    expect(help.status, transcript(help)).toBe(0);
    expect(help.stdout).toContain('Usage: ringkv <command>');
    const version = run('npx', ['--no', '--', 'ringkv', '--version'], project, 60_000);
    expect(version.status, transcript(version)).toBe(0);
    expect(version.stdout.trim()).toBe(packedOf('ringkv').manifest.version);
  }, 120_000);
});
