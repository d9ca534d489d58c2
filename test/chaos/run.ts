/**
 * `npm run chaos`: the fault-injection suite (test/chaos/scenario.ts), long version by default.
 * Prints the report (a Markdown table and totals) and exits 1 if an acknowledged write was
 * lost or an error said "not applied" of a write that was. Needs nats-server on the PATH
 * (and redis-server for --storage redis).
 *
 *   npm run chaos                 # LONG: 3 rounds, default timeouts (several minutes)
 *   npm run chaos -- --short      # the CI version (about a minute)
 *   npm run chaos -- --rounds 1   # LONG with fewer rounds
 *   npm run chaos -- --storage memory  # nodes on memory (lmdb by default; or redis)
 *   npm run chaos -- --json       # the report as JSON on stdout
 *   npm run chaos -- --write-docs # also (re)writes the "Fault injection" section of docs/benchmarks.md
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatReport, LONG, runChaos, SHORT, type ChaosReport, type ChaosStorage } from './scenario.js';

const { values } = parseArgs({
  options: {
    short: { type: 'boolean' },
    rounds: { type: 'string' },
    storage: { type: 'string' },
    json: { type: 'boolean' },
    'write-docs': { type: 'boolean' },
  },
});
const options = {
  ...(values.short ? SHORT : LONG),
  log: (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
};
if (values.rounds !== undefined) {
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  options.rounds = rounds;
}
if (values.storage !== undefined) {
  if (!['lmdb', 'memory', 'redis'].includes(values.storage))
    throw new Error(`--storage must be lmdb, memory or redis, got ${values.storage}`);
  options.storage = values.storage as ChaosStorage;
}
const report = await runChaos(options);
process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
if (values['write-docs']) writeDocs(report);
if (report.lost > 0 || report.contradicted > 0) process.exitCode = 1;

/** Replaces (or appends) the "Fault injection" section of docs/benchmarks.md. */
function writeDocs(r: ChaosReport): void {
  const file = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
  const title = 'Fault injection (`npm run chaos`)';
  const body = [
    `## ${title}`,
    '',
    `Written by \`npm run chaos -- --write-docs\` (test/chaos/run.ts, scenario in test/chaos/scenario.ts) on ${new Date().toISOString().slice(0, 10)}: ` +
      `${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ` +
      `load average ${loadavg()[0]!.toFixed(1)} at the end (the machine is shared: times are long and noisy; the counts are what matter).`,
    '',
    'What the figures mean: an acknowledged write is a PUT answered `OK`; each is read back through the text servers once',
    'the faults are over, and "lost" counts those that did not read back with their value (must be 0). "Operations',
    'failed" are PUTs and GETs answered `ERROR`, or left without a reply within the client deadline (twice the hop',
    'timeout plus 2 s), or cut by a connection that broke. Every PUT writes a new key with a unique value, so a failed',
    'PUT read back afterwards shows whether it was applied after all; the breakdown is by what the error said (a',
    '`QuorumError` now says "may have been applied" or "was not applied", docs/ring.md). "Longest without a write" is',
    'the longest stretch with no PUT answered `OK` by any writer. A phase lasts as long as its fault takes on this',
    'machine (node restarts included); steady phases also wait, up to 30 s, for the first write after the fault.',
    '',
    formatReport(r),
    '',
  ].join('\n');
  const old = readFileSync(file, 'utf8');
  const parts = old.split(/^(?=## )/m);
  const at = parts.findIndex((p) => p.startsWith(`## ${title}`));
  if (at === -1) parts.push(`${parts.at(-1)!.endsWith('\n\n') ? '' : '\n'}${body}`);
  else parts[at] = `${body}\n`;
  writeFileSync(file, parts.join('').replace(/\n+$/, '\n'));
  process.stderr.write(`chaos: wrote the "${title}" section of ${file}\n`);
}
