// Sums the vitest JSON reports each package's test run wrote, prints "N passed, N failed".
// Exits 1 when a report shows failures or skipped tests (CI must run every test), or when
// no report exists at all.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.test-results';
let passed = 0, failed = 0, skipped = 0, files = 0;
const skippedNames = [];
if (existsSync(dir)) {
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    files++;
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    passed += r.numPassedTests ?? 0;
    failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0) - countSuitesWithFailedTests(r);
    const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    skipped += s;
    if (s) for (const tr of r.testResults ?? []) for (const a of tr.assertionResults ?? []) if (a.status === 'pending' || a.status === 'skipped' || a.status === 'todo') skippedNames.push(`${f}: ${a.fullName}`);
  }
}
function countSuitesWithFailedTests(r) {
  return (r.testResults ?? []).filter((t) => t.status === 'failed' && (t.assertionResults ?? []).some((a) => a.status === 'failed')).length;
}
if (files === 0) failed++;
if (skippedNames.length) console.log(`skipped tests (CI runs every test):\n  ${skippedNames.join('\n  ')}`);
console.log(`${passed} passed, ${failed + skipped} failed`);
process.exit(failed + skipped > 0 ? 1 : 0);
