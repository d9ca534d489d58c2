/**
 * `npm run lint:packages`: packs every publishable package and runs the tarball checks, publint
 * and attw on each. Exits 1 when any package has a problem; run after `npm run build`.
 *
 * @example
 * npm run build && npm run lint:packages
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packPackages, repoRoot } from './pack.js';
import { formatReport, lintTarball } from './package-lint.js';

const dest = mkdtempSync(join(tmpdir(), 'ringkv-lint-'));
try {
  const packed = packPackages(repoRoot(), dest);
  let failed = 0;
  for (const pkg of packed) {
    const report = await lintTarball(pkg);
    if (!report.ok) failed++;
    console.log(formatReport(report));
  }
  console.log(`\n${packed.length - failed} of ${packed.length} packages pass publint, attw (esm-only) and the tarball checks`);
  process.exitCode = failed === 0 ? 0 : 1;
} catch (err) {
  console.error(`lint:packages: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(dest, { recursive: true, force: true });
}
