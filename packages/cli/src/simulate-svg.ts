/**
 * A self-contained SVG chart of a simulation (no scripts, fonts or links): for each strategy,
 * the buckets per node before and after the change; then the fraction each strategy moves
 * against the ideal. Bars carry `data-node` / `data-value` so tests (and curious readers of
 * the source) can check what is drawn.
 */
import type { SimulationReport, StrategyResult } from '@ringkv/sim';

const WIDTH = 760;
const PANEL = 210;
const LEFT = 70;
const RIGHT = 20;
const BEFORE = '#9aa5b1';
const AFTER = '#2f6fdf';
const IDEAL = '#d6336c';
const REPLICA = '#8fb3f2';

export interface SvgOptions {
  /** @default "What moves: n -> m nodes, B buckets" */
  title?: string;
  /** Which strategies get a load panel (all by default); the moved-fraction panel shows every one. */
  loadPanels?: (result: StrategyResult) => boolean;
}

export function renderSvg(report: SimulationReport, options: SvgOptions = {}): string {
  const m = report.members;
  const heading = options.title ?? `What moves: ${m.before.length} -> ${m.after.length} nodes, ${report.buckets.toLocaleString('en-US')} buckets`;
  const panels = report.results.filter(options.loadPanels ?? (() => true));
  const maxLoad = Math.max(1, ...panels.flatMap((r) => [...r.load.before, ...r.load.after].map((l) => l.buckets)));
  const parts: string[] = [];
  let y = 40;
  parts.push(text(LEFT, 24, heading, { size: 15, weight: 'bold', cls: 'title' }));
  parts.push(legend(WIDTH - RIGHT - 230, 14));
  for (const r of panels) {
    parts.push(loadPanel(r, y, maxLoad));
    y += PANEL;
  }
  const moved = movedPanel(report.results, y);
  parts.push(moved.svg);
  y += moved.height;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y + 10}" viewBox="0 0 ${WIDTH} ${y + 10}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<title>${esc(heading)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${y + 10}" fill="#ffffff"/>`,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}

function loadPanel(r: StrategyResult, top: number, maxLoad: number): string {
  const nodes = [...new Set([...r.load.before.map((l) => l.node), ...r.load.after.map((l) => l.node)])];
  const before = new Map(r.load.before.map((l) => [l.node, l.buckets]));
  const after = new Map(r.load.after.map((l) => [l.node, l.buckets]));
  const plotTop = top + 28;
  const plotH = PANEL - 28 - 62;
  const base = plotTop + plotH;
  const plotW = WIDTH - LEFT - RIGHT;
  const group = plotW / nodes.length;
  const barW = Math.max(2, Math.min(28, (group - 6) / 2));
  const out: string[] = [`<g class="panel" data-strategy="${esc(r.label)}">`];
  out.push(
    text(LEFT, top + 16, `${r.label}: owner moved ${(r.owner.fraction * 100).toFixed(1)}% (ideal ${(r.owner.ideal * 100).toFixed(1)}%), max/mean ${r.load.stats.before.buckets.maxOverMean.toFixed(2)} -> ${r.load.stats.after.buckets.maxOverMean.toFixed(2)}`, { size: 12, weight: 'bold', cls: 'panel-title' }),
  );
  // Axis and a few gridlines, labelled in buckets.
  for (const f of [0, 0.5, 1]) {
    const gy = base - f * plotH;
    out.push(`<line x1="${LEFT}" y1="${fx(gy)}" x2="${WIDTH - RIGHT}" y2="${fx(gy)}" stroke="#e3e7eb" stroke-width="1"/>`);
    out.push(text(LEFT - 6, gy + 4, compact(f * maxLoad), { size: 10, anchor: 'end', cls: 'axis' }));
  }
  const mean = r.load.stats.after.buckets.mean;
  const my = base - (mean / maxLoad) * plotH;
  out.push(`<line class="mean-after" x1="${LEFT}" y1="${fx(my)}" x2="${WIDTH - RIGHT}" y2="${fx(my)}" stroke="${AFTER}" stroke-dasharray="4 3" stroke-width="1"/>`);
  nodes.forEach((node, i) => {
    const gx = LEFT + i * group + (group - 2 * barW - 2) / 2;
    const b = before.get(node);
    const a = after.get(node);
    if (b !== undefined) out.push(barRect('before', node, b, gx, base, barW, (b / maxLoad) * plotH, BEFORE));
    if (a !== undefined) out.push(barRect('after', node, a, gx + barW + 2, base, barW, (a / maxLoad) * plotH, AFTER));
    const lx = LEFT + i * group + group / 2;
    const label = node.length > 16 ? `${node.slice(0, 15)}…` : node;
    const rotate = nodes.length > 6 ? ` transform="rotate(-35 ${fx(lx)} ${fx(base + 12)})"` : '';
    out.push(`<text class="node-label" x="${fx(lx)}" y="${fx(base + 12)}" font-size="10" text-anchor="${nodes.length > 6 ? 'end' : 'middle'}"${rotate}>${esc(label)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

function movedPanel(results: readonly StrategyResult[], top: number): { svg: string; height: number } {
  const rowH = 22;
  const rows = results.flatMap((r) => [
    { label: `${r.label}: owner`, value: r.owner.fraction, ideal: r.owner.ideal, color: AFTER, kind: 'owner' },
    ...(r.replicaSets ? [{ label: `${r.label}: replica sets`, value: r.replicaSets.fraction, ideal: r.replicaSets.ideal, color: REPLICA, kind: 'replicas' }] : []),
  ]);
  const labelW = 250;
  const x0 = LEFT + labelW;
  const plotW = WIDTH - x0 - RIGHT - 50;
  const out = [`<g class="moved">`, text(LEFT, top + 16, 'Fraction of buckets that move, against the ideal (red mark)', { size: 12, weight: 'bold', cls: 'panel-title' })];
  rows.forEach((row, i) => {
    const y = top + 28 + i * rowH;
    out.push(text(x0 - 8, y + 13, row.label, { size: 10, anchor: 'end', cls: 'moved-label' }));
    out.push(`<rect class="moved-bar ${row.kind}" data-strategy="${esc(row.label)}" data-value="${row.value}" x="${x0}" y="${y + 2}" width="${fx(Math.max(0.5, row.value * plotW))}" height="${rowH - 6}" fill="${row.color}"/>`);
    const ix = x0 + row.ideal * plotW;
    out.push(`<line class="ideal" data-value="${row.ideal}" x1="${fx(ix)}" y1="${y}" x2="${fx(ix)}" y2="${y + rowH - 2}" stroke="${IDEAL}" stroke-width="2"/>`);
    out.push(text(x0 + Math.max(row.value, row.ideal) * plotW + 6, y + 13, `${(row.value * 100).toFixed(1)}%`, { size: 10, cls: 'moved-value' }));
  });
  out.push(`<line x1="${x0}" y1="${top + 26}" x2="${x0}" y2="${top + 28 + rows.length * rowH}" stroke="#555" stroke-width="1"/>`);
  out.push('</g>');
  return { svg: out.join('\n'), height: 40 + rows.length * rowH };
}

function legend(x: number, y: number): string {
  return [
    `<g class="legend">`,
    `<rect x="${x}" y="${y}" width="12" height="12" fill="${BEFORE}"/>`,
    text(x + 16, y + 10, 'before', { size: 11 }),
    `<rect x="${x + 70}" y="${y}" width="12" height="12" fill="${AFTER}"/>`,
    text(x + 86, y + 10, 'after', { size: 11 }),
    `<rect x="${x + 132}" y="${y + 4}" width="12" height="3" fill="${IDEAL}"/>`,
    text(x + 148, y + 10, 'ideal', { size: 11 }),
    `</g>`,
  ].join('\n');
}

function barRect(cls: string, node: string, value: number, x: number, base: number, w: number, h: number, fill: string): string {
  return `<rect class="bar ${cls}" data-node="${esc(node)}" data-value="${value}" x="${fx(x)}" y="${fx(base - h)}" width="${fx(w)}" height="${fx(h)}" fill="${fill}"><title>${esc(`${node} ${cls}: ${value.toLocaleString('en-US')} buckets`)}</title></rect>`;
}

function text(x: number, y: number, s: string, o: { size: number; weight?: string; anchor?: string; cls?: string }): string {
  return `<text${o.cls ? ` class="${o.cls}"` : ''} x="${fx(x)}" y="${fx(y)}" font-size="${o.size}"${o.weight ? ` font-weight="${o.weight}"` : ''}${o.anchor ? ` text-anchor="${o.anchor}"` : ''}>${esc(s)}</text>`;
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

const fx = (n: number): string => (Math.round(n * 10) / 10).toString();

/** XML-escapes text and attribute values; drops characters XML 1.0 cannot hold. */
export function esc(s: string): string {
  return s
    .replace(/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
