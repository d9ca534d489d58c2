/**
 * Continuous load through the text servers while faults are injected: writers PUT unique keys
 * (one command at a time each, never overwriting), a reader GETs keys already acknowledged.
 * Every outcome is recorded: the value of every acknowledged write, every failed operation
 * with its reason, and when each write succeeded (for the longest window without one).
 * A writer whose connection breaks moves on to the next node, as a client behind a load
 * balancer would.
 */
import { connectText, type CallResult, type TextConnection } from './text-client.js';

export interface LoadOptions {
  /** Text-server ports of the nodes (fixed across restarts). */
  ports: readonly number[];
  bucket: string;
  writers: number;
  /** Reader connections GETting acknowledged keys during the run. @default 1 */
  readers?: number;
  /** Deadline of one command. */
  opTimeoutMs: number;
  /** Pause after a failed operation, so a total outage is not a busy loop. @default 100 */
  failurePauseMs?: number;
}

export interface FailedOp {
  readonly op: 'put' | 'get';
  readonly key: string;
  /** The value the PUT tried to write. */
  readonly value?: string;
  readonly reason: string;
  readonly at: number;
}

export interface Gap {
  readonly from: number;
  readonly to: number;
}

export interface LoadRecord {
  /** key -> value of every PUT answered OK. */
  readonly acknowledged: Map<string, string>;
  readonly failed: FailedOp[];
  /** GETs during the run that answered OK with another value than the acknowledged one. */
  readonly staleReads: { key: string; expected: string; got: string; at: number }[];
  /** Successful writes, by time (ms since epoch), in order. */
  readonly writeTimes: number[];
  readonly reads: { ok: number; failed: number };
  readonly startedAt: number;
  stoppedAt: number;
}

export interface Load {
  readonly record: LoadRecord;
  /** Stops every worker after its command in flight and closes the connections. */
  stop(): Promise<LoadRecord>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startLoad(options: LoadOptions): Load {
  const record: LoadRecord = {
    acknowledged: new Map(),
    failed: [],
    staleReads: [],
    writeTimes: [],
    reads: { ok: 0, failed: 0 },
    startedAt: Date.now(),
    stoppedAt: 0,
  };
  const ackedKeys: string[] = [];
  const pause = options.failurePauseMs ?? 100;
  let running = true;

  /**
   * A connection to some node: `preferred` when it is up, else the next ones in turn. Like a
   * client behind a load balancer, a worker that had to move goes back to its own node once
   * that node serves again (checked at most once a second), so restarts in turn do not herd
   * every worker onto one node.
   */
  function connections(preferred: number) {
    const n = options.ports.length;
    let at = preferred % n;
    let conn: TextConnection | undefined;
    let lastHomeTry = 0;
    return {
      async get(): Promise<TextConnection | undefined> {
        if (conn?.usable() && at !== preferred % n && Date.now() - lastHomeTry > 1000) {
          lastHomeTry = Date.now();
          try {
            const home = await connectText(options.ports[preferred % n]!, 500);
            conn.close();
            conn = home;
            at = preferred % n;
          } catch {
            // still down: stay where we are
          }
        }
        while (running && !conn?.usable()) {
          conn?.close();
          conn = undefined;
          try {
            conn = await connectText(options.ports[at]!, 1000);
          } catch {
            at = (at + 1) % n;
            await sleep(pause);
          }
        }
        return conn;
      },
      /** After a failure on a broken connection: try the next node. */
      moveOn() {
        if (conn && !conn.usable()) at = (at + 1) % n;
      },
      close: () => conn?.close(),
    };
  }

  async function writer(id: number): Promise<void> {
    const pool = connections(id);
    for (let seq = 0; running; seq++) {
      const conn = await pool.get();
      if (!conn) break;
      const key = `w${id}-${seq}`;
      const value = `v${id}.${seq}.${Math.random().toString(36).slice(2, 8)}`;
      const r: CallResult = await conn.call(`PUT ${options.bucket} ${key} ${value}`, 'put', options.opTimeoutMs);
      const at = Date.now();
      if (r.ok) {
        record.acknowledged.set(key, value);
        ackedKeys.push(key);
        record.writeTimes.push(at);
      } else {
        record.failed.push({ op: 'put', key, value, reason: r.reason, at });
        pool.moveOn();
        await sleep(pause);
      }
    }
    pool.close();
  }

  async function reader(id: number): Promise<void> {
    const pool = connections(id + 1);
    while (running) {
      if (ackedKeys.length === 0) {
        await sleep(50);
        continue;
      }
      const conn = await pool.get();
      if (!conn) break;
      const key = ackedKeys[Math.floor(Math.random() * ackedKeys.length)]!;
      const expected = record.acknowledged.get(key)!;
      const r = await conn.call(`GET ${options.bucket} ${key}`, 'get', options.opTimeoutMs);
      const at = Date.now();
      if (r.ok) {
        record.reads.ok++;
        if (r.value !== expected) record.staleReads.push({ key, expected, got: r.value ?? '', at });
      } else {
        record.reads.failed++;
        record.failed.push({ op: 'get', key, reason: r.reason, at });
        pool.moveOn();
        await sleep(pause);
      }
    }
    pool.close();
  }

  const workers = [
    ...Array.from({ length: options.writers }, (_, i) => writer(i)),
    ...Array.from({ length: options.readers ?? 1 }, (_, i) => reader(i)),
  ];

  let stopped: Promise<LoadRecord> | undefined;
  return {
    record,
    stop() {
      stopped ??= (async () => {
        running = false;
        await Promise.all(workers);
        record.stoppedAt = Date.now();
        return record;
      })();
      return stopped;
    },
  };
}

/** Windows between consecutive successful writes (and from the start and to the end) longer than `minMs`. */
export function writeGaps(record: LoadRecord, minMs = 0): Gap[] {
  const times = [record.startedAt, ...record.writeTimes, record.stoppedAt || Date.now()];
  const gaps: Gap[] = [];
  for (let i = 1; i < times.length; i++) if (times[i]! - times[i - 1]! > minMs) gaps.push({ from: times[i - 1]!, to: times[i]! });
  return gaps;
}

/** The longest part of any gap inside [from, to). */
export function longestGapWithin(gaps: readonly Gap[], from: number, to: number): number {
  let most = 0;
  for (const g of gaps) most = Math.max(most, Math.min(g.to, to) - Math.max(g.from, from));
  return most;
}
