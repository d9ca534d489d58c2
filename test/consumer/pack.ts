/**
 * Packs every publishable workspace package the way `npm publish` would, so the checks and the
 * consumer project look at exactly what users would download.
 *
 * @example
 * const packed = packPackages(repoRoot(), mkdtempSync(join(tmpdir(), 'ringkv-pack-')));
 * packed.map((p) => p.tarball); // ['/tmp/ringkv-pack-x/ringkv-core-0.1.0.tgz', ...]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageManifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: string | Record<string, string>;
  main?: string;
  types?: string;
  exports?: unknown;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}

export interface WorkspacePackage {
  /** Absolute path of the package folder (`<repo>/packages/core`). */
  dir: string;
  /** Path relative to the repo root (`packages/core`). */
  relDir: string;
  manifest: PackageManifest;
}

export interface PackedPackage extends WorkspacePackage {
  /** Absolute path of the `.tgz`. */
  tarball: string;
  /** Paths inside the tarball, relative to its `package/` folder, as npm reports them. */
  files: string[];
}

/** The monorepo root (two levels above this file). */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Every non-private package under `packages/`, sorted by folder. */
export function publishablePackages(root: string): WorkspacePackage[] {
  const packagesDir = join(root, 'packages');
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(packagesDir, d.name, 'package.json')))
    .map((d) => {
      const dir = join(packagesDir, d.name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageManifest;
      return { dir, relDir: `packages/${d.name}`, manifest };
    })
    .filter((p) => p.manifest.private !== true)
    .sort((a, b) => a.relDir.localeCompare(b.relDir));
}

/** Fails with a clear message when a package has not been built (nothing to pack). */
export function assertBuilt(packages: readonly WorkspacePackage[]): void {
  const unbuilt = packages.filter((p) => !existsSync(join(p.dir, 'dist')));
  if (unbuilt.length > 0) {
    throw new Error(`not built: ${unbuilt.map((p) => p.relDir).join(', ')} have no dist/; run \`npm run build\` first`);
  }
}

interface NpmPackEntry {
  name: string;
  version: string;
  filename: string;
  files: { path: string }[];
}

/** `npm pack` of every publishable package into `dest`, in one npm invocation. */
export function packPackages(root: string, dest: string): PackedPackage[] {
  const packages = publishablePackages(root);
  assertBuilt(packages);
  mkdirSync(dest, { recursive: true });
  const args = ['pack', '--json', '--pack-destination', dest, ...packages.flatMap((p) => ['-w', p.relDir])];
  const result = spawnSync('npm', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`npm ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stderr}`);
  }
  const entries = JSON.parse(result.stdout) as NpmPackEntry[];
  return packages.map((p) => {
    const entry = entries.find((e) => e.name === p.manifest.name);
    if (!entry) throw new Error(`npm pack reported nothing for ${p.manifest.name} (${p.relDir})`);
    return { ...p, tarball: join(dest, entry.filename), files: entry.files.map((f) => f.path).sort() };
  });
}
