/**
 * `ringkv cluster status` asks every member for its anti-entropy: replies come off the network,
 * so only well-formed ones are shown; a node that does not answer, or answers nonsense, is left
 * out without failing the status.
 */
import { describe, expect, it } from 'vitest';
import { createInProcessNetwork } from '@ringkv/core';
import { AAE_STATUS_MESSAGE } from '@ringkv/ring';
import { askAntiEntropy } from '../src/anti-entropy-status.js';

describe('askAntiEntropy', () => {
  it('keeps well-formed answers and null, leaves out silence and nonsense', async () => {
    const network = createInProcessNetwork();
    const replies: Record<string, unknown> = {
      'ok@t': { exchanges: 4, repairs: 2, synced: true, bytesSent: 10, bytesReceived: 20, exchangesFailed: 0, tombstonesReaped: 1, extra: 'x' },
      'none@t': null,
      'bad@t': { exchanges: '4', repairs: 2, synced: true },
      'list@t': [1, 2],
      'nan@t': { exchanges: 1, repairs: 1, synced: 'yes' },
    };
    for (const [name, reply] of Object.entries(replies)) {
      await network.transport().listen(name, async (msg) => {
        expect(msg.type).toBe(AAE_STATUS_MESSAGE);
        return reply;
      });
    }
    const got = await askAntiEntropy(network.transport(), [...Object.keys(replies), 'gone@t'], 500);
    expect(got.get('ok@t')).toEqual({ exchanges: 4, repairs: 2, synced: true, bytesSent: 10, bytesReceived: 20, exchangesFailed: 0, tombstonesReaped: 1 });
    expect(got.get('none@t')).toBeNull();
    for (const n of ['bad@t', 'list@t', 'nan@t', 'gone@t']) expect(got.has(n)).toBe(false);
  });
});
