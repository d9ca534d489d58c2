/**
 * The short version of `npm run chaos`, in CI: every fault of the suite once, under load
 * through the text servers, then every acknowledged write read back. See scenario.ts.
 */
import { expect, it } from 'vitest';
import { describeDistributed } from '@ringkv/test-utils';
import { formatReport, runChaos, SHORT } from './scenario.js';

describeDistributed(
  'chaos (short): node kills, rolling restarts, a stopped node, NATS restarts and a lost NATS server, under load',
  () => {
    it('loses no acknowledged write, never says "not applied" of an applied one, and keeps writing after every fault', async () => {
      const report = await runChaos({ ...SHORT, log: (line) => console.log(line) });
      const text = formatReport(report);
      console.log(text);
      expect(report.lost, text).toBe(0);
      expect(report.contradicted, text).toBe(0);
      expect(report.acknowledged, text).toBeGreaterThan(100);
      // Every failed write was read afterwards, so "applied or not" is known for each.
      expect(report.failedUnknown, text).toBe(0);
      // The cluster recovered from each fault: writes succeed in the steady phase after it.
      const last = report.phases.at(-1)!;
      expect(last.writesOk, text).toBeGreaterThan(0);
      for (const [i, p] of report.phases.entries()) {
        if (p.name.startsWith('steady')) expect(p.writesOk, `${p.name} (phase ${i})\n${text}`).toBeGreaterThan(0);
      }
    }, 300_000);
  },
  { needs: ['nats-server'] },
);
