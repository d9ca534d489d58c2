/**
 * The terminal view of a simulation: per strategy, what moved against the ideal, per-node load
 * bars before and after, the largest transfers; then one comparison line per strategy. Also
 * the JSON form and the progress bar. Pure: strings in, strings out.
 */
import { renderBucket } from '@ringkv/core';
import type { LoadPicture, OwnerChange, SimulationReport, StrategyResult } from '@ringkv/sim';

const BAR_WIDTH = 28;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const pct = (f: number): string => `${(f * 100).toFixed(1)}%`;
const ratio = (r: number | null): string => (r === null ? '-' : `x${r.toFixed(2)}`);

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A horizontal bar in eighths of a character. */
export function bar(value: number, max: number, width = BAR_WIDTH): string {
  if (max <= 0 || value <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

export interface RenderContext {
  readonly source: string;
  readonly top: number;
}

export function renderReport(report: SimulationReport, ctx: RenderContext): string {
  const m = report.members;
  const lines: string[] = [];
  const change = [m.added.length ? `add ${m.added.join(', ')}` : '', m.removed.length ? `remove ${m.removed.join(', ')}` : ''].filter(Boolean).join('; ');
  lines.push(`Migration simulation: ${m.before.length} -> ${m.after.length} nodes${change ? ` (${change})` : ''}`);
  lines.push(`Buckets: ${ctx.source}${report.sizesKnown ? `, ${humanBytes(report.bytes)}` : ''}`);
  for (const r of report.results) lines.push('', ...renderResult(report, r, ctx));
  if (report.results.length > 1) lines.push('', ...renderComparison(report));
  return `${lines.join('\n')}\n`;
}

function renderResult(report: SimulationReport, r: StrategyResult, ctx: RenderContext): string[] {
  const sized = report.sizesKnown;
  const out: string[] = [r.label];
  if (r.range) out.push(`  table before: ${tableText(r.range.before)}`, `  table after:  ${tableText(r.range.after)}`);
  const o = r.owner;
  out.push(
    `  owner moved:  ${int(o.changed)} buckets (${pct(o.fraction)})${sized ? `, ${humanBytes(o.changedBytes)}` : ''}; ideal ${pct(o.ideal)}, ${ratio(o.ratioToIdeal)} the ideal; between old nodes: ${int(o.betweenOldNodes)}`,
  );
  if (r.replicaSets) {
    const s = r.replicaSets;
    out.push(
      `  replica sets changed (N=${s.n}): ${int(s.changed)} buckets (${pct(s.fraction)}); ideal ${pct(s.ideal)}, ${ratio(s.ratioToIdeal)}; copies to make: ${int(s.copies)}${sized ? ` (${humanBytes(s.copiesBytes)})` : ''}; between old nodes: ${int(s.betweenOldNodes)}`,
    );
  }
  if (r.unplaced.before || r.unplaced.after) {
    out.push(`  no table entry (not counted as moved): ${int(r.unplaced.before)} before, ${int(r.unplaced.after)} after`);
  }
  out.push(...loadTable(r.load, sized, 'owner load'));
  if (r.transfers.length) {
    const shown = r.transfers.slice(0, ctx.top);
    out.push(`  transfers${r.transfers.length > shown.length ? ` (largest ${shown.length} of ${r.transfers.length})` : ''}:`);
    const w = Math.max(...shown.map((t) => t.from.length));
    for (const t of shown) out.push(`    ${t.from.padEnd(w)} -> ${t.to}  ${int(t.buckets)} buckets${sized ? `, ${humanBytes(t.bytes)}` : ''}`);
  } else {
    out.push('  transfers: none');
  }
  if (r.replicaTransfers?.length) {
    const shown = r.replicaTransfers.slice(0, ctx.top);
    out.push(`  replica copies (dropped by -> made on)${r.replicaTransfers.length > shown.length ? `, largest ${shown.length} of ${r.replicaTransfers.length}` : ''}:`);
    const w = Math.max(...shown.map((t) => t.from.length));
    for (const t of shown) out.push(`    ${t.from.padEnd(w)} -> ${t.to}  ${int(t.buckets)} buckets${sized ? `, ${humanBytes(t.bytes)}` : ''}`);
  }
  return out;
}

function loadTable(load: LoadPicture, sized: boolean, title: string): string[] {
  const nodes = [...new Set([...load.before.map((l) => l.node), ...load.after.map((l) => l.node)])];
  const before = new Map(load.before.map((l) => [l.node, l]));
  const after = new Map(load.after.map((l) => [l.node, l]));
  const max = Math.max(0, ...load.before.map((l) => l.buckets), ...load.after.map((l) => l.buckets));
  const nw = Math.max(4, ...nodes.map((n) => n.length));
  const cw = Math.max(6, int(max).length);
  const cell = (l: { buckets: number; bytes: number } | undefined) =>
    l === undefined ? `${'-'.padStart(cw)} ${''.padEnd(BAR_WIDTH)}` : `${int(l.buckets).padStart(cw)} ${bar(l.buckets, max).padEnd(BAR_WIDTH)}`;
  const out = [`  ${title}:`, `    ${'node'.padEnd(nw)}  ${'before'.padStart(cw)} ${''.padEnd(BAR_WIDTH)}  ${'after'.padStart(cw)}`];
  for (const n of nodes) {
    const sizes = sized ? `  ${humanBytes(before.get(n)?.bytes ?? 0)} -> ${humanBytes(after.get(n)?.bytes ?? 0)}` : '';
    out.push(`    ${n.padEnd(nw)}  ${cell(before.get(n))}  ${cell(after.get(n)).trimEnd()}${sizes}`);
  }
  const s = load.stats;
  out.push(`    ${'max/mean'.padEnd(nw)}  ${s.before.buckets.maxOverMean.toFixed(3).padStart(cw)} ${''.padEnd(BAR_WIDTH)}  ${s.after.buckets.maxOverMean.toFixed(3).padStart(cw)}`);
  out.push(`    ${'CV'.padEnd(nw)}  ${s.before.buckets.cv.toFixed(3).padStart(cw)} ${''.padEnd(BAR_WIDTH)}  ${s.after.buckets.cv.toFixed(3).padStart(cw)}`);
  if (sized) out.push(`    bytes max/mean ${s.before.bytes.maxOverMean.toFixed(3)} -> ${s.after.bytes.maxOverMean.toFixed(3)}, CV ${s.before.bytes.cv.toFixed(3)} -> ${s.after.bytes.cv.toFixed(3)}`);
  return out;
}

function renderComparison(report: SimulationReport): string[] {
  const rows = report.results.map((r) => [
    r.label,
    pct(r.owner.fraction),
    pct(r.owner.ideal),
    ratio(r.owner.ratioToIdeal),
    pct(r.owner.changed === 0 ? 0 : r.owner.betweenOldNodes / Math.max(1, r.owner.changed)),
    r.replicaSets ? pct(r.replicaSets.fraction) : '-',
    r.load.stats.after.buckets.maxOverMean.toFixed(3),
    r.load.stats.after.buckets.cv.toFixed(3),
  ]);
  const head = ['strategy', 'moved', 'ideal', 'vs ideal', 'of it between old', 'replica sets', 'max/mean after', 'CV after'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  return ['Comparison (owner moves):', line(head), ...rows.map(line)];
}

function tableText(t: readonly { from: number; to: number; node: string }[]): string {
  // Letters and digits as themselves (the guide's a..m), any other byte as its number.
  const b = (x: number) => (/[0-9A-Za-z]/.test(String.fromCharCode(x)) ? String.fromCharCode(x) : String(x));
  return t.length === 0 ? '(empty)' : t.map((e) => `${b(e.from)}..${b(e.to)} -> ${e.node}`).join(', ');
}

/** `ringkv plan`: the moves of one strategy, Riak `cluster plan` style. */
export function renderPlan(report: SimulationReport, r: StrategyResult, moved: readonly OwnerChange[], ctx: RenderContext & { limit: number }): string {
  const m = report.members;
  const sized = report.sizesKnown;
  const lines = [
    `Planned changes (${r.label})`,
    ...m.added.map((n) => `  join     ${n}`),
    ...m.removed.map((n) => `  leave    ${n}`),
    `  members  ${m.before.join(', ')}`,
    `        -> ${m.after.join(', ')}`,
    `Buckets: ${ctx.source}${sized ? `, ${humanBytes(report.bytes)}` : ''}`,
    '',
    ...renderResult(report, r, ctx).slice(1),
  ];
  if (ctx.limit > 0 && moved.length > 0) {
    lines.push('', `Buckets whose owner changes${r.owner.changed > moved.length ? ` (first ${moved.length} of ${int(r.owner.changed)})` : ''}:`);
    for (const c of moved) lines.push(`  ${renderBucket(c.bucket)}  ${c.from} -> ${c.to}${sized ? `  ${humanBytes(c.bytes)}` : ''}`);
  }
  lines.push('', 'This is a plan only: nothing has moved. Executing it is not implemented yet.');
  return `${lines.join('\n')}\n`;
}

/** JSON for machines: bucket names (plan samples) as strings when UTF-8, else byte arrays. */
export function toJson(value: unknown): string {
  // Look at the holder's own value: a Buffer has already been through its toJSON by now.
  return `${JSON.stringify(
    value,
    function (this: Record<string, unknown>, k: string, v: unknown) {
      const original = this[k];
      return original instanceof Uint8Array ? jsonBucket(original) : v;
    },
    2,
  )}\n`;
}

const strict = new TextDecoder('utf-8', { fatal: true });
function jsonBucket(b: Uint8Array): string | { bytes: number[] } {
  try {
    return strict.decode(b);
  } catch {
    return { bytes: Array.from(b) };
  }
}

/** `[########------] 45% 450,000/1,000,000` on one line, redrawn with a CR. */
export function progressLine(done: number, total: number, width = 30): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(f * width);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(f * 100)).padStart(3)}% ${int(done)}/${int(total)}`;
}
