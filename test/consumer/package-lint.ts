/**
 * The package linters, run on a packed tarball: publint (package.json fields against the files
 * that actually ship) and arethetypeswrong (what TypeScript resolves for each entry point).
 * Plus the tarball content checks of tarball-checks.ts, fed from the extracted tarball.
 *
 * attw runs with the `esm-only` profile: the packages are ESM-only on purpose (Node >= 20.19,
 * where `require()` of ESM works), so the node10 and node16-from-CJS resolutions that would
 * flag "CJS resolves to ESM" are not ours to satisfy. See docs/releasing.md.
 *
 * @example
 * const report = await lintTarball(packed);
 * if (!report.ok) console.error(report.text);
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import type { PackedPackage } from './pack.js';
import { checkTarball } from './tarball-checks.js';

export interface LintReport {
  name: string;
  ok: boolean;
  /** Problems, one per line, prefixed with the linter that found them. */
  problems: string[];
  /** publint suggestions: reported, never failing. */
  suggestions: string[];
  /** attw's table, for context when it fails. */
  attwOutput: string;
}

const require = createRequire(import.meta.url);

/** Flags attw runs with; `--no-definitely-typed` keeps it off the network. */
export const ATTW_FLAGS = ['--profile', 'esm-only', '--no-definitely-typed', '--no-color', '--no-emoji', '--format', 'ascii'];

/** Extracts a tarball into a fresh temp folder; returns the `package/` folder inside it. */
export function extractTarball(tarball: string): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'ringkv-tarball-'));
  const r = spawnSync('tar', ['-xzf', tarball, '-C', root], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -xzf ${tarball} failed: ${r.stderr}`);
  return { dir: join(root, 'package'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = join(dir, d.name);
    return d.isDirectory() ? listFiles(full, base) : [relative(base, full).split(sep).join('/')];
  });
}

/** The tarball content checks, on what the tarball really holds. */
export function checkPackedContents(pkg: PackedPackage): string[] {
  const { dir, cleanup } = extractTarball(pkg.tarball);
  try {
    const files = new Map(listFiles(dir).map((p) => [p, readFileSync(join(dir, p), 'utf8')] as const));
    const packageRoot = realpathSync(pkg.dir);
    return checkTarball({
      manifest: pkg.manifest,
      relDir: pkg.relDir,
      files,
      locate: (path) => {
        const onDisk = join(pkg.dir, path);
        if (!existsSync(onDisk)) return 'missing';
        const real = realpathSync(onDisk);
        return real.startsWith(packageRoot + sep) ? 'inside' : 'outside';
      },
    });
  } finally {
    cleanup();
  }
}

/** publint on the tarball; warnings count as failures, suggestions are reported but pass. */
export async function runPublint(pkg: PackedPackage): Promise<{ failures: string[]; suggestions: string[] }> {
  const data = readFileSync(pkg.tarball);
  const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const { messages, pkg: manifest } = await publint({ pack: { tarball }, level: 'suggestion' });
  const line = (m: (typeof messages)[number]) => `publint ${m.type} ${m.code}: ${formatMessage(m, manifest, { color: false }) ?? ''}`;
  return {
    failures: messages.filter((m) => m.type !== 'suggestion').map(line),
    suggestions: messages.filter((m) => m.type === 'suggestion').map(line),
  };
}

/** attw on the tarball with {@link ATTW_FLAGS}. */
export function runAttw(pkg: PackedPackage): { ok: boolean; output: string } {
  const bin = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist', 'index.js');
  const r = spawnSync(process.execPath, [bin, pkg.tarball, ...ATTW_FLAGS], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { ok: r.status === 0, output: r.error ? `${r.error.message}\n${output}` : output };
}

/** Every check on one packed package. */
export async function lintTarball(pkg: PackedPackage): Promise<LintReport> {
  const contents = checkPackedContents(pkg).map((p) => `tarball: ${p}`);
  const { failures, suggestions } = await runPublint(pkg);
  const attw = runAttw(pkg);
  const problems = [...contents, ...failures, ...(attw.ok ? [] : ['attw: problems found (table below)'])];
  return { name: pkg.manifest.name, ok: problems.length === 0, problems, suggestions, attwOutput: attw.output };
}

/** A report as text: what was wrong and where. */
export function formatReport(report: LintReport): string {
  const notes = report.suggestions.map((s) => `\n  (suggestion) ${s}`).join('');
  if (report.ok) return `${report.name}: ok${notes}`;
  const attw = report.problems.some((p) => p.startsWith('attw:')) ? `\n${report.attwOutput}` : '';
  return `${report.name}: ${report.problems.length} problem(s)\n${report.problems.map((p) => `  - ${p}`).join('\n')}${notes}${attw}`;
}
