/**
 * Load and checks for membership tests: a continuous write/read load that records every
 * acknowledged write and every failure with its time, and the checks run once a change settled
 * (every acknowledged write reads back through every node; each bucket held by exactly its
 * replica set).
 */
export interface LoadClient {
  /** Resolves to the reply of one command (`OK`, a value, or an error line). */
  put(bucket: string, key: string, value: string): Promise<string>;
  get(bucket: string, key: string): Promise<string>;
}

export interface LoadStats {
  readonly acked: ReadonlyMap<string, { bucket: string; key: string; value: string }>;
  readonly ok: number;
  readonly failed: number;
  readonly failures: readonly string[];
  /** Longest time between two successful writes, ms. */
  readonly longestWriteGapMs: number;
  /** Write latencies, ms, tagged with the phase they ran in. */
  readonly writeLatencies: ReadonlyArray<{ at: number; ms: number }>;
}

export interface RunningLoad {
  stats(): LoadStats;
  /** Stops issuing commands and waits for the ones in flight. */
  stop(): Promise<LoadStats>;
}

/**
 * `workers` loops, each writing unique keys (`<prefix><worker>-<n>`) round-robin over `buckets`
 * through `clients` (chosen in turn), and reading back one of its own earlier keys every
 * `readEvery` writes. A write counts as acknowledged only when the reply is exactly `OK`.
 */
export function startLoad(options: {
  clients: readonly LoadClient[];
  buckets: readonly string[];
  workers?: number;
  readEvery?: number;
  prefix?: string;
  /** Pause between commands of one worker, ms. @default 2 */
  pauseMs?: number;
}): RunningLoad {
  const acked = new Map<string, { bucket: string; key: string; value: string }>();
  const failures: string[] = [];
  const writeLatencies: Array<{ at: number; ms: number }> = [];
  let ok = 0;
  let failed = 0;
  let stopped = false;
  let lastWriteOk = Date.now();
  let longestWriteGapMs = 0;
  const workers = options.workers ?? 4;
  const readEvery = options.readEvery ?? 3;
  const prefix = options.prefix ?? 'k';
  const pause = options.pauseMs ?? 2;
  let turn = 0;

  async function worker(w: number): Promise<void> {
    const mine: string[] = [];
    for (let i = 0; !stopped; i++) {
      const client = options.clients[turn++ % options.clients.length]!;
      const bucket = options.buckets[(w + i) % options.buckets.length]!;
      const key = `${prefix}${w}-${i}`;
      const value = `v${w}.${i}`;
      const t0 = Date.now();
      try {
        const reply = await client.put(bucket, key, value);
        if (reply === 'OK') {
          ok++;
          const t1 = Date.now();
          writeLatencies.push({ at: t0, ms: t1 - t0 });
          longestWriteGapMs = Math.max(longestWriteGapMs, t1 - lastWriteOk);
          lastWriteOk = t1;
          acked.set(`${bucket}\u0000${key}`, { bucket, key, value });
          mine.push(`${bucket}\u0000${key}`);
        } else {
          failed++;
          failures.push(`put ${bucket} ${key}: ${reply}`);
        }
      } catch (err) {
        failed++;
        failures.push(`put ${bucket} ${key}: ${(err as Error).message}`);
      }
      if (i % readEvery === readEvery - 1 && mine.length > 0) {
        const a = acked.get(mine[Math.floor(Math.random() * mine.length)]!)!;
        try {
          const got = await options.clients[turn++ % options.clients.length]!.get(a.bucket, a.key);
          if (got === a.value) ok++;
          else {
            failed++;
            failures.push(`get ${a.bucket} ${a.key}: expected ${a.value}, got ${got}`);
          }
        } catch (err) {
          failed++;
          failures.push(`get ${a.bucket} ${a.key}: ${(err as Error).message}`);
        }
      }
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  }

  const running = Array.from({ length: workers }, (_, w) => worker(w));
  const stats = (): LoadStats => ({
    acked,
    ok,
    failed,
    failures,
    longestWriteGapMs: Math.max(longestWriteGapMs, stopped ? 0 : Date.now() - lastWriteOk),
    writeLatencies,
  });
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(running);
      return stats();
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
