/**
 * Each node's anti-entropy as `ringkv cluster status` shows it: asked of every node at once,
 * a node that does not answer (or predates the message) is left out rather than failing the status.
 */
import type { Transport } from '@ringkv/core';
import type { AntiEntropyStats } from '@ringkv/http';
import { AAE_STATUS_MESSAGE } from '@ringkv/ring';

/** The node's counters since it started, in /stats' terms; `synced` is what a rolling restart waits for. */
export type AntiEntropySummary = AntiEntropyStats;

export async function askAntiEntropy(transport: Transport, nodes: readonly string[], timeoutMs = 2000): Promise<Map<string, AntiEntropySummary | null>> {
  const out = new Map<string, AntiEntropySummary | null>();
  await Promise.all(
    nodes.map(async (node) => {
      try {
        const reply = await transport.request(node, { type: AAE_STATUS_MESSAGE, body: null }, { timeoutMs });
        const summary = checkSummary(reply);
        if (summary !== undefined) out.set(node, summary);
      } catch {
        // Down, or an older node without the message: the holdings already say which.
      }
    }),
  );
  return out;
}

/** A reply from the network, checked field by field: anything else is not shown. */
function checkSummary(reply: unknown): AntiEntropySummary | null | undefined {
  if (reply === null) return null;
  if (typeof reply !== 'object' || Array.isArray(reply)) return undefined;
  const r = reply as Record<string, unknown>;
  const num = (k: string): number | undefined => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? r[k] : undefined);
  const exchanges = num('exchanges');
  const repairs = num('repairs');
  if (exchanges === undefined || repairs === undefined || typeof r.synced !== 'boolean') {
    return undefined;
  }
  const summary: AntiEntropySummary = { exchanges, repairs, synced: r.synced };
  for (const k of ['exchangesFailed', 'bytesSent', 'bytesReceived', 'tombstonesReaped'] as const) {
    const v = num(k);
    if (v !== undefined) summary[k] = v;
  }
  return summary;
}
