/**
 * `npm run bench`: runs every test/bench/*.bench.ts in turn (or those named on the command
 * line) and writes docs/benchmarks.md: the machine, the date, then one section per benchmark.
 * Each bench module exports `run(): Promise<BenchSection>`.
 */
import { readdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, totalmem, platform, release } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

export interface BenchSection {
  title: string;
  /** Markdown body: tables of measurements and ratios. */
  markdown: string;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const out = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const sections: BenchSection[] = [];
for (const f of files) {
  process.stderr.write(`bench: ${f}\n`);
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { run(): Promise<BenchSection> };
  const started = new Date().toISOString().slice(0, 10);
  const load = loadavg()[0]!.toFixed(1);
  const section = await mod.run();
  // A partial run keeps the other sections: each one says when it was measured.
  section.markdown = `_Measured ${started}; load average (1 min) at its start ${load} on ${cpus().length} cores._\n\n${section.markdown.trim()}`;
  process.stderr.write(`${section.markdown}\n`);
  sections.push(section);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const header = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (test/bench/run.ts; `npm run bench -- ring server` runs only those sections and keeps the others). Every comparison in a table was measured side by side in the same run; each section says when it ran.',
  '',
  `- Last run: ${new Date().toISOString().slice(0, 10)}`,
  `- Machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, Node ${process.version}`,
  '',
].join('\n');

// When only some benches ran, keep the other sections of the existing file. Sections other
// commands write (`npm run chaos -- --write-docs`: "Fault injection ...") are kept on every run.
const writtenElsewhere = (section: string) => section.startsWith('Fault injection');
let kept: string[] = [];
if (existsSync(out)) {
  const old = readFileSync(out, 'utf8').split(/^## /m).slice(1);
  kept = old
    .filter((s) => (only.length > 0 || writtenElsewhere(s)) && !sections.some((n) => s.startsWith(n.title)))
    .map((s) => `## ${s.trimEnd()}\n`);
}
const body = [...kept, ...sections.map((s) => `## ${s.title}\n\n${s.markdown.trim()}\n`)].join('\n');
writeFileSync(out, `${header}\n${body}`);
process.stderr.write(`bench: wrote ${out}\n`);
