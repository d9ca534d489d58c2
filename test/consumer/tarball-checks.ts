/**
 * What a published ringkv tarball must (not) contain, as pure checks over its file list and
 * text: no tests, no source maps that point nowhere, nothing from outside the package, every
 * bare import declared as a dependency (no reliance on hoisting), a runnable bin.
 *
 * @example
 * const problems = checkTarball({ manifest, files: new Map([['dist/index.js', 'export {};']]) });
 * problems; // ['README.md is missing', ...]
 */
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import ts from 'typescript';
import type { PackageManifest } from './pack.js';

export interface TarballContents {
  manifest: PackageManifest;
  /** The package's folder in the repo (`packages/core`), which `repository.directory` must name. */
  relDir?: string;
  /** Every file in the tarball (path relative to `package/`) with its text. */
  files: ReadonlyMap<string, string>;
  /**
   * Where a tarball path sits in the package folder on disk: a file that is not there, or whose
   * real path leaves the folder (a symlink), came from outside the package.
   * @default every file counts as inside
   */
  locate?: (path: string) => 'inside' | 'outside' | 'missing';
}

const TEST_DIRS = new Set(['test', 'tests', '__tests__', '__mocks__', 'fixtures', 'e2e']);
const TEST_FILE = /\.(test|spec|bench)\.[cm]?[jt]sx?$|(^|\/)vitest\.config\.|(^|\/)tsconfig(\..*)?\.json$|\.tsbuildinfo$/;
const MAPPED = /\.(m?js|d\.m?ts)$/;
const SOURCE_MAPPING_URL = /^\s*\/\/[#@] sourceMappingURL=(\S+)\s*$/m;
const PACKAGE_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;
const BUILTINS = new Set(builtinModules);

/** All problems found; empty when the tarball is fit to publish. */
export function checkTarball(contents: TarballContents): string[] {
  return [
    ...checkManifest(contents),
    ...checkRequiredFiles(contents),
    ...checkPaths(contents),
    ...checkNoTests(contents),
    ...checkSourceMaps(contents),
    ...checkDeclaredDependencies(contents),
    ...checkBin(contents),
  ];
}

const RINGKV_PACKAGE = /^(@ringkv\/[a-z0-9-]+|ringkv)$/;
const SEMVER = /^\d+\.\d+\.\d+(-[\w.-]+)?$/;

/**
 * The publishing fields every ringkv package carries (the list), read from the
 * package.json inside the tarball when there is one: that is the one users get.
 */
export function checkManifest({ manifest: repoManifest, files, relDir }: TarballContents): string[] {
  let m = repoManifest;
  const packed = files.get('package.json');
  if (packed !== undefined) {
    try {
      m = JSON.parse(packed) as PackageManifest;
    } catch {
      return ['package.json: not valid JSON'];
    }
  }
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(`package.json: ${what}`);
  };
  const str = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
  need(RINGKV_PACKAGE.test(m.name), `name ${JSON.stringify(m.name)} is not @ringkv/<name> or ringkv`);
  need(SEMVER.test(String(m.version)), `version ${JSON.stringify(m.version)} is not x.y.z`);
  need(str(m.description), 'description is missing');
  need(m.license === 'Apache-2.0', `license is ${JSON.stringify(m.license)}, expected "Apache-2.0"`);
  const repo = m.repository as { url?: unknown; directory?: unknown } | undefined;
  need(str(repo?.url), 'repository.url is missing');
  if (relDir !== undefined) need(repo?.directory === relDir, `repository.directory is ${JSON.stringify(repo?.directory)}, expected "${relDir}"`);
  need(Array.isArray(m.keywords) && m.keywords.length > 0, 'keywords are missing');
  need(m.type === 'module', 'type is not "module"');
  need(m.sideEffects === false, 'sideEffects is not false');
  need(str((m.engines as { node?: unknown } | undefined)?.node), 'engines.node is missing');
  need(Array.isArray(m.files) && m.files.length > 0, 'files is missing (everything in the folder would ship)');
  const root = (m.exports as Record<string, unknown> | undefined)?.['.'];
  if (root === null || typeof root !== 'object') {
    problems.push('package.json: exports["."] must be an object of conditions');
  } else {
    need(Object.keys(root)[0] === 'types', `exports["."] lists ${JSON.stringify(Object.keys(root)[0])} first, expected "types"`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
    for (const [dep, spec] of Object.entries(m[field] ?? {})) {
      if (/^(workspace|file|link|portal):/.test(spec)) problems.push(`package.json: ${field}.${dep} is "${spec}", which only resolves inside this repo`);
      else if (RINGKV_PACKAGE.test(dep) && spec !== m.version) {
        problems.push(`package.json: ${field}.${dep} is "${spec}", expected "${m.version}" (ringkv packages are released together)`);
      }
    }
  }
  return problems;
}

function checkRequiredFiles({ files }: TarballContents): string[] {
  return ['package.json', 'README.md'].filter((f) => !files.has(f)).map((f) => `${f} is missing`);
}

function checkPaths({ files, locate }: TarballContents): string[] {
  const problems: string[] = [];
  for (const path of files.keys()) {
    if (posix.isAbsolute(path) || path.split('/').includes('..')) {
      problems.push(`${path}: path leaves the package folder`);
      continue;
    }
    const where = locate?.(path) ?? 'inside';
    if (where === 'missing') problems.push(`${path}: not a file of the package folder (where did it come from?)`);
    if (where === 'outside') problems.push(`${path}: resolves to a file outside the package folder (symlink?)`);
  }
  return problems;
}

function checkNoTests({ files }: TarballContents): string[] {
  const problems: string[] = [];
  for (const path of files.keys()) {
    const dirs = path.split('/').slice(0, -1);
    if (dirs.some((d) => TEST_DIRS.has(d)) || TEST_FILE.test(path)) {
      problems.push(`${path}: test or build-only file shipped (narrow "files" in package.json)`);
    } else if (path.endsWith('.ts') && !path.endsWith('.d.ts') && !path.startsWith('src/')) {
      problems.push(`${path}: TypeScript source outside src/ (only src/ ships, for the source maps)`);
    }
  }
  return problems;
}

/** Resolves `ref` (a URL-ish relative path) against the folder of `from`, inside the tarball. */
function resolveIn(from: string, ref: string): string {
  return posix.normalize(posix.join(posix.dirname(from), decodeURIComponent(ref)));
}

function checkSourceMaps({ files }: TarballContents): string[] {
  const problems: string[] = [];
  for (const [path, text] of files) {
    if (MAPPED.test(path)) {
      const url = SOURCE_MAPPING_URL.exec(text)?.[1];
      if (url && !url.startsWith('data:')) {
        const target = resolveIn(path, url);
        if (!files.has(target)) problems.push(`${path}: sourceMappingURL points to ${target}, which is not in the tarball`);
      }
    }
    if (path.endsWith('.map')) problems.push(...checkMap(path, text, files));
  }
  return problems;
}

function checkMap(path: string, text: string, files: ReadonlyMap<string, string>): string[] {
  let map: { sources?: unknown; sourceRoot?: unknown; sourcesContent?: unknown };
  try {
    map = JSON.parse(text) as typeof map;
  } catch {
    return [`${path}: not a JSON source map`];
  }
  if (!Array.isArray(map.sources)) return [`${path}: source map has no "sources" array`];
  const root = typeof map.sourceRoot === 'string' ? map.sourceRoot : '';
  const inlined = Array.isArray(map.sourcesContent) ? map.sourcesContent : [];
  return map.sources.flatMap((source: unknown, i: number) => {
    if (typeof source !== 'string') return [`${path}: sources[${i}] is not a string`];
    if (typeof inlined[i] === 'string') return [];
    if (/^[a-z][\w+.-]*:/i.test(root + source)) return [`${path}: source ${root + source} is a URL, not a file in the tarball`];
    const target = resolveIn(path, posix.join(root, source));
    return files.has(target) ? [] : [`${path}: points to source ${target}, which is not in the tarball`];
  });
}

/** The package a bare specifier names (`@scope/pkg/sub` -> `@scope/pkg`), or undefined if not bare. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('#') || /^[a-z][\w+.-]*:/i.test(specifier)) {
    return undefined;
  }
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return PACKAGE_NAME.test(name) ? name : undefined;
}

/** Module specifiers a JavaScript or declaration file imports (static, dynamic, require, import types). */
export function importedSpecifiers(path: string, text: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  const specifiers = info.importedFiles.map((f) => f.fileName);
  // `import("x").T` in declarations is not reported by preProcessFile; catch it here.
  if (path.endsWith('.d.ts') || path.endsWith('.d.mts')) {
    for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) specifiers.push(m[1]!);
  }
  return [...new Set(specifiers)];
}

function checkDeclaredDependencies({ manifest, files }: TarballContents): string[] {
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const problems: string[] = [];
  for (const [path, text] of files) {
    if (!MAPPED.test(path)) continue;
    for (const specifier of importedSpecifiers(path, text)) {
      const name = packageOf(specifier);
      if (name === undefined || BUILTINS.has(name) || declared.has(name)) continue;
      problems.push(`${path}: imports "${specifier}" but ${name} is not in dependencies (it would only work by hoisting)`);
    }
  }
  return problems;
}

function checkBin({ manifest, files }: TarballContents): string[] {
  const bins = typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {});
  return Object.entries(bins).flatMap(([command, target]) => {
    const path = posix.normalize(target);
    const text = files.get(path);
    if (text === undefined) return [`bin ${command}: ${path} is not in the tarball`];
    if (!text.startsWith('#!/usr/bin/env node')) return [`bin ${command}: ${path} does not start with "#!/usr/bin/env node"`];
    return [];
  });
}
