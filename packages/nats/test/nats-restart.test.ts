/**
 * Riding through a restart of the nats-server (issue 13's availability under a NATS restart):
 * a storage node and a client on their own transports over one nats-server, which restarts
 * while the client writes. Every acknowledgement is recorded and read back afterwards.
 */
import { afterEach, expect, it } from 'vitest';
import { TransportError, type TransportMessage } from '@ringkv/core';
import { describeDistributed, startNatsServer } from '@ringkv/test-utils';
import { connectNatsTransport, type NatsTransport } from '../src/index.js';

const STORE = 'store@restart-test';
const MERGE = 'test.merge';
const GET = 'test.get';
const COUNT = 'test.count';
const SLOW_MERGE = 'test.slow-merge';

/** What the client may send twice: merging a whole value under its key, and reads. */
const idempotent = (msg: TransportMessage) => msg.type === MERGE || msg.type === SLOW_MERGE || msg.type === GET;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => {});
});

/** A key-value node: MERGE sets a key (idempotent), COUNT adds one to a counter (not idempotent). */
async function storeNode(transport: NatsTransport) {
  const values = new Map<string, string>();
  const merges = new Map<string, number>();
  const counts = new Map<string, number>();
  const listener = await transport.listen(STORE, async (msg) => {
    const { key, value, delayMs } = msg.body as { key: string; value?: string; delayMs?: number };
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (msg.type === MERGE || msg.type === SLOW_MERGE) {
      values.set(key, value!);
      merges.set(key, (merges.get(key) ?? 0) + 1);
      return 'ok';
    }
    if (msg.type === GET) return values.get(key) ?? null;
    if (msg.type === COUNT) {
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return n;
    }
    throw new Error(`unknown message ${msg.type}`);
  });
  cleanup.push(() => listener.close());
  return { values, merges, counts };
}

async function transports(url: string) {
  // Reconnect waits as in a node (the defaults), so the test sees what a node sees.
  const server = await connectNatsTransport({ url, name: STORE });
  const client = await connectNatsTransport({ url, name: 'client@restart-test', idempotent });
  cleanup.push(
    () => client.close(),
    () => server.close(),
  );
  return { server, client };
}

describeDistributed('NATS transport through a nats-server restart', () => {
  it('an idempotent call whose reply was lost when the server went away is sent again after the reconnect', async () => {
    const nats = await startNatsServer({ jetstream: false });
    cleanup.push(() => nats.stop());
    const { server, client } = await transports(nats.url);
    const store = await storeNode(server);
    // The store answers after 600 ms; the nats-server goes away meanwhile, so the first
    // answer is lost. The call is sent again once both are back, and runs a second time.
    const call = client.request(STORE, { type: SLOW_MERGE, body: { key: 'k', value: 'v', delayMs: 600 } }, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 150));
    await nats.restart(800);
    expect(await call).toBe('ok');
    expect(store.values.get('k')).toBe('v');
    expect(store.merges.get('k')).toBe(2);
    // Not idempotent: in flight when the server goes away, it fails ("outcome unknown") and is
    // not sent again, so it runs at most once.
    const counted = client
      .request(STORE, { type: COUNT, body: { key: 'c', delayMs: 600 } }, { timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    await nats.restart(800);
    const err = (await counted) as Error;
    expect(err).toBeInstanceOf(TransportError);
    expect(err.message).toMatch(/the call's outcome is unknown/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(store.counts.get('c') ?? 0).toBeLessThanOrEqual(1);
  }, 60_000);

  it('writes under load ride through a restart: at least 99.9% succeed, every acknowledged write reads back', async () => {
    const nats = await startNatsServer({ jetstream: false });
    cleanup.push(() => nats.stop());
    const { server, client } = await transports(nats.url);
    const store = await storeNode(server);

    const acked = new Map<string, string>();
    const failures: string[] = [];
    const countAcked: string[] = [];
    let ok = 0;
    let lastOk = performance.now();
    let longestGapMs = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const key = `w${w}-${i}`;
        const value = `v${w}.${i}`;
        try {
          expect(await client.request(STORE, { type: MERGE, body: { key, value } }, { timeoutMs: 5000 })).toBe('ok');
          acked.set(key, value);
          ok++;
          const now = performance.now();
          longestGapMs = Math.max(longestGapMs, now - lastOk);
          lastOk = now;
        } catch (err) {
          failures.push(`${key}: ${(err as Error).message}`);
          // A client that backs off a little, as any real one does.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    // Calls that are not idempotent, beside: each acknowledged one ran exactly once, none twice.
    const counter = async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const key = `c${i}`;
        const n = await client.request(STORE, { type: COUNT, body: { key } }, { timeoutMs: 5000 }).catch(() => undefined);
        if (n !== undefined) countAcked.push(key);
        else await new Promise((r) => setTimeout(r, 20));
      }
    };
    const load = [...Array.from({ length: 8 }, (_, w) => writer(w)), counter()];
    await new Promise((r) => setTimeout(r, 1500));
    const before = ok;
    const downAt = performance.now();
    await nats.restart();
    const restartedAt = performance.now();
    const outageMs = restartedAt - downAt;
    // Load goes on until writes have flowed again for a while after the restart.
    while (performance.now() - restartedAt < 10_000 && ok < before + 2000) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(load);

    const total = ok + failures.length;
    const ratio = ok / total;
    console.log(
      `nats restart under load: ${ok} of ${total} writes acknowledged (${(ratio * 100).toFixed(2)}%), longest gap ${longestGapMs.toFixed(0)} ms, nats-server down for ${outageMs.toFixed(0)} ms`,
    );
    expect(ok).toBeGreaterThan(before);
    expect(ratio, failures.slice(0, 5).join('\n')).toBeGreaterThanOrEqual(0.999);
    // Writes resume within a second of the server accepting connections again.
    expect(longestGapMs).toBeLessThan(outageMs + 1000);
    // Every acknowledged write reads back, through NATS.
    const wrong: string[] = [];
    for (const [key, value] of acked) {
      const got = await client.request(STORE, { type: GET, body: { key } }, { timeoutMs: 5000 });
      if (got !== value) wrong.push(`${key}: ${String(got)}`);
    }
    expect(wrong).toEqual([]);
    // Nothing that is not idempotent ran twice; every acknowledged one ran.
    expect([...store.counts.values()].every((n) => n === 1)).toBe(true);
    for (const key of countAcked) expect(store.counts.get(key)).toBe(1);
  }, 60_000);
});
