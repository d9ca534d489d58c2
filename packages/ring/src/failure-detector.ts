/**
 * Which members are up, as far as this node can tell. A member is suspected down after a
 * request to it fails at the connection level (or a replica message times out) and after a
 * failed periodic ping; it is up again as soon as a ping succeeds. Listeners hear when a member
 * comes back, or restarts as a new incarnation (which hinted handoff treats the same way).
 *
 * Injected into the ring strategy so tests can say who is down without killing anything.
 *
 * @example
 * const detector = createFailureDetector({ self: 'a@h', members, ping: (n) => node.send(n, 'ring.ping', {}, 500) });
 * detector.start();
 * detector.isUp('b@h');
 */
export interface FailureDetector {
  isUp(node: string): boolean;
  /** Marks `node` suspected down (a request to it failed). */
  suspect(node: string, reason?: unknown): void;
  /** Marks `node` up (something it sent arrived); `incarnation` is its actor, when known. */
  alive(node: string, incarnation?: string): void;
  /** Called when a member goes from down to up, or comes back as a new incarnation. */
  onUp(listener: (node: string) => void): () => void;
  /** Nodes currently suspected. */
  down(): string[];
  /** Pings every other member once now; resolves when all answered or failed. */
  probe(): Promise<void>;
  /**
   * Pings every other member once, marking those that answer up but suspecting nobody: at
   * start-up peers may simply not be listening yet.
   */
  hello(): Promise<void>;
  start(): void;
  stop(): void;
}

export interface FailureDetectorOptions {
  self: string;
  members: readonly string[];
  /** Resolves to the member's incarnation (actor) when it answers, rejects otherwise. */
  ping: (node: string) => Promise<string | undefined>;
  /** Time between ping rounds. @default 1000 */
  intervalMs?: number;
}

export function createFailureDetector(options: FailureDetectorOptions): FailureDetector {
  const others = options.members.filter((m) => m !== options.self);
  const suspected = new Set<string>();
  const incarnations = new Map<string, string>();
  const listeners = new Set<(node: string) => void>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let probing: Promise<void> | undefined;

  const detector: FailureDetector = {
    isUp: (node) => node === options.self || !suspected.has(node),
    suspect(node) {
      if (node !== options.self && others.includes(node)) suspected.add(node);
    },
    alive(node, incarnation) {
      if (!others.includes(node)) return;
      const wasDown = suspected.delete(node);
      const before = incarnations.get(node);
      if (incarnation !== undefined) incarnations.set(node, incarnation);
      const restarted = before !== undefined && incarnation !== undefined && before !== incarnation;
      if (wasDown || restarted) for (const l of listeners) l(node);
    },
    onUp(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    down: () => [...suspected],
    probe() {
      // One round at a time: a slow round must not pile up behind the interval.
      probing ??= Promise.all(
        others.map((m) =>
          options.ping(m).then(
            (inc) => detector.alive(m, inc),
            () => detector.suspect(m),
          ),
        ),
      ).then(() => {
        probing = undefined;
      });
      return probing;
    },
    async hello() {
      await Promise.all(others.map((m) => options.ping(m).then((inc) => detector.alive(m, inc), () => {})));
    },
    start() {
      if (timer) return;
      timer = setInterval(() => void detector.probe(), options.intervalMs ?? 1000);
      timer.unref?.();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
  return detector;
}
