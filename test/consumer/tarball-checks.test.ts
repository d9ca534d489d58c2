/**
 * The tarball checks must catch what they claim to catch; these feed them small made-up
 * tarballs, one fault each.
 */
import { describe, expect, it } from 'vitest';
import type { PackageManifest } from './pack.js';
import { checkTarball, importedSpecifiers, packageOf, type TarballContents } from './tarball-checks.js';

const manifest: PackageManifest = {
  name: '@ringkv/demo',
  version: '1.0.0',
  description: 'a demo',
  license: 'Apache-2.0',
  repository: { type: 'git', url: 'git+https://github.com/ringkv/ringkv.git', directory: 'packages/demo' },
  keywords: ['ringkv'],
  type: 'module',
  sideEffects: false,
  engines: { node: '>=20.19' },
  exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
  files: ['dist', 'src', 'README.md'],
  dependencies: { '@ringkv/core': '1.0.0', zod: '^4' },
};

/** A well-formed tarball: built JS with maps into the shipped src/. */
function goodFiles(): Map<string, string> {
  return new Map([
    ['package.json', JSON.stringify(manifest)],
    ['README.md', '# demo'],
    ['src/index.ts', "export const x: number = 1;"],
    ['dist/index.js', "import { z } from 'zod';\nimport '@ringkv/core/side';\nexport * from './other.js';\n//# sourceMappingURL=index.js.map"],
    ['dist/index.js.map', JSON.stringify({ version: 3, file: 'index.js', sources: ['../src/index.ts'], mappings: '' })],
    ['dist/index.d.ts', "export declare const x: import('@ringkv/core').Placement;\n//# sourceMappingURL=index.d.ts.map"],
    ['dist/index.d.ts.map', JSON.stringify({ version: 3, file: 'index.d.ts', sourceRoot: '', sources: ['../src/index.ts'], mappings: '' })],
    ['dist/other.js', "const fs = await import('node:fs');\nimport { join } from 'path';\nexport {};"],
  ]);
}

const check = (files: Map<string, string>, extra: Partial<TarballContents> = {}) =>
  checkTarball({ manifest, files, relDir: 'packages/demo', ...extra });

/** The good tarball with its package.json fields changed. */
function withManifest(changes: Record<string, unknown>): Map<string, string> {
  const files = goodFiles();
  files.set('package.json', JSON.stringify({ ...manifest, ...changes }));
  return files;
}

describe('checkTarball', () => {
  it('passes a well-formed tarball', () => {
    expect(check(goodFiles())).toEqual([]);
  });

  it('reports a source map comment whose map is not shipped (maps excluded by "files")', () => {
    const files = goodFiles();
    files.delete('dist/index.js.map');
    expect(check(files)).toEqual(['dist/index.js: sourceMappingURL points to dist/index.js.map, which is not in the tarball']);
  });

  it('reports a map whose sources are not shipped (src/ left out)', () => {
    const files = goodFiles();
    files.delete('src/index.ts');
    expect(check(files)).toEqual([
      'dist/index.js.map: points to source src/index.ts, which is not in the tarball',
      'dist/index.d.ts.map: points to source src/index.ts, which is not in the tarball',
    ]);
  });

  it('accepts sources inlined in the map, and inline data: maps', () => {
    const files = goodFiles();
    files.delete('src/index.ts');
    files.set('dist/index.js.map', JSON.stringify({ version: 3, sources: ['../src/index.ts'], sourcesContent: ['export {}'], mappings: '' }));
    files.set('dist/index.d.ts', 'export {};\n//# sourceMappingURL=data:application/json;base64,e30=');
    files.delete('dist/index.d.ts.map');
    expect(check(files)).toEqual([]);
  });

  it('reports a map that is not JSON', () => {
    const files = goodFiles();
    files.set('dist/index.js.map', '{oops');
    expect(check(files)).toEqual(['dist/index.js.map: not a JSON source map']);
  });

  it('reports test files and build-only files wherever they are', () => {
    const files = goodFiles();
    files.set('dist/router.test.js', '');
    files.set('test/helpers.js', '');
    files.set('dist/__tests__/x.js', '');
    files.set('tsconfig.tsbuildinfo', '');
    files.set('vitest.config.js', '');
    expect(check(files).map((p) => p.split(':')[0])).toEqual([
      'dist/router.test.js',
      'test/helpers.js',
      'dist/__tests__/x.js',
      'tsconfig.tsbuildinfo',
      'vitest.config.js',
    ]);
  });

  it('reports TypeScript sources outside src/', () => {
    const files = goodFiles();
    files.set('lib/extra.ts', '');
    expect(check(files)).toEqual(['lib/extra.ts: TypeScript source outside src/ (only src/ ships, for the source maps)']);
  });

  it('reports files from outside the package folder', () => {
    const files = goodFiles();
    files.set('../LICENSE', '');
    const problems = check(files, { locate: (p) => (p === 'dist/other.js' ? 'outside' : p === 'README.md' ? 'missing' : 'inside') });
    expect(problems).toEqual([
      'README.md: not a file of the package folder (where did it come from?)',
      'dist/other.js: resolves to a file outside the package folder (symlink?)',
      '../LICENSE: path leaves the package folder',
    ]);
  });

  it('reports imports of packages that are not dependencies, in JS and in declarations', () => {
    const files = goodFiles();
    files.set('dist/extra.js', "import Redis from 'ioredis';\nexport const r = () => import('hashring');");
    files.set('dist/extra.d.ts', "export declare const r: import('msgpackr').Packr;");
    expect(check(files)).toEqual([
      'dist/extra.js: imports "ioredis" but ioredis is not in dependencies (it would only work by hoisting)',
      'dist/extra.js: imports "hashring" but hashring is not in dependencies (it would only work by hoisting)',
      'dist/extra.d.ts: imports "msgpackr" but msgpackr is not in dependencies (it would only work by hoisting)',
    ]);
  });

  it('ignores imports named in comments and strings', () => {
    const files = goodFiles();
    files.set('dist/doc.js', "/** @example import { x } from 'not-a-dep'; */\nexport const s = \"import y from 'nope'\";");
    expect(check(files)).toEqual([]);
  });

  it('reports missing README and package.json', () => {
    const files = goodFiles();
    files.delete('README.md');
    files.delete('package.json');
    expect(check(files)).toEqual(['package.json is missing', 'README.md is missing']);
  });

  it('reports missing or wrong publishing fields in the packed package.json', () => {
    const files = withManifest({ name: 'demo', description: '', license: 'MIT', keywords: [], type: 'commonjs', sideEffects: true, engines: {}, files: undefined });
    expect(check(files)).toEqual([
      'package.json: name "demo" is not @ringkv/<name> or ringkv',
      'package.json: description is missing',
      'package.json: license is "MIT", expected "Apache-2.0"',
      'package.json: keywords are missing',
      'package.json: type is not "module"',
      'package.json: sideEffects is not false',
      'package.json: engines.node is missing',
      'package.json: files is missing (everything in the folder would ship)',
    ]);
  });

  it('reports exports without types first, and a repository directory that is not the folder', () => {
    const files = withManifest({
      exports: { '.': { default: './dist/index.js', types: './dist/index.d.ts' } },
      repository: { type: 'git', url: 'git+https://github.com/ringkv/ringkv.git', directory: 'packages/other' },
    });
    expect(check(files)).toEqual([
      'package.json: repository.directory is "packages/other", expected "packages/demo"',
      'package.json: exports["."] lists "default" first, expected "types"',
    ]);
  });

  it('reports ringkv dependencies at another version, and repo-only specs', () => {
    const files = withManifest({ dependencies: { '@ringkv/core': '0.9.0', ringkv: '^1.0.0', zod: 'file:../zod', nats: 'workspace:*' } });
    expect(check(files)).toEqual([
      'package.json: dependencies.@ringkv/core is "0.9.0", expected "1.0.0" (ringkv packages are released together)',
      'package.json: dependencies.ringkv is "^1.0.0", expected "1.0.0" (ringkv packages are released together)',
      'package.json: dependencies.zod is "file:../zod", which only resolves inside this repo',
      'package.json: dependencies.nats is "workspace:*", which only resolves inside this repo',
    ]);
  });

  it('reports a bin that is missing or has no node shebang', () => {
    const withBin = { ...manifest, bin: { demo: './dist/bin.js' } };
    expect(checkTarball({ manifest: withBin, files: goodFiles() })).toEqual(['bin demo: dist/bin.js is not in the tarball']);
    const files = goodFiles();
    files.set('dist/bin.js', "import './index.js';");
    expect(checkTarball({ manifest: withBin, files })).toEqual(['bin demo: dist/bin.js does not start with "#!/usr/bin/env node"']);
    files.set('dist/bin.js', "#!/usr/bin/env node\nimport './index.js';");
    expect(checkTarball({ manifest: withBin, files })).toEqual([]);
  });
});

describe('packageOf', () => {
  it('names the package of bare specifiers only', () => {
    expect(packageOf('@ringkv/core')).toBe('@ringkv/core');
    expect(packageOf('@ringkv/core/sub/path.js')).toBe('@ringkv/core');
    expect(packageOf('zod/v4')).toBe('zod');
    expect(packageOf('./x.js')).toBeUndefined();
    expect(packageOf('../x.js')).toBeUndefined();
    expect(packageOf('node:fs')).toBeUndefined();
    expect(packageOf('#internal')).toBeUndefined();
    expect(packageOf('${x}')).toBeUndefined();
  });
});

describe('importedSpecifiers', () => {
  it('finds static, side-effect, re-export, dynamic and import-type specifiers', () => {
    const js = "import a from 'a';\nimport 'b';\nexport { c } from 'c';\nexport * from 'd';\nconst e = await import('e');";
    expect(importedSpecifiers('x.js', js).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(importedSpecifiers('x.d.ts', "export declare function f(): import('f').T;")).toEqual(['f']);
  });
});
