/**
 * Settings of active anti-entropy (`ring.antiEntropy` in a node's config), their defaults, and
 * their check: one message per bad field, in the ring's ConfigError.
 *
 * @example
 * { "ring": { "members": [...], "antiEntropy": { "intervalMs": 30000, "maxKeysPerSecond": 20000 } } }
 */

/** Time between exchange rounds (each round compares this node's trees with each peer's once). */
export const DEFAULT_AAE_INTERVAL_MS = 30_000;
/** Objects one exchange repairs at most; more differences are left to an immediate follow-up. */
export const DEFAULT_AAE_MAX_KEYS_PER_EXCHANGE = 10_000;
/** Objects per repair message. */
export const DEFAULT_AAE_BATCH_SIZE = 500;
/** Repair rate limit of one node, objects per second, shared by all its exchanges. */
export const DEFAULT_AAE_MAX_KEYS_PER_SECOND = 20_000;
/** How often trees fold in the writes of the storage change log between exchanges. */
export const DEFAULT_AAE_TREE_UPDATE_MS = 200;

export interface AntiEntropyConfig {
  /** @default true */
  enabled?: boolean;
  /** @default 30000 */
  intervalMs?: number;
  /** @default 10000 */
  maxKeysPerExchange?: number;
  /** @default 500 */
  batchSize?: number;
  /** @default 20000 */
  maxKeysPerSecond?: number;
  /** @default 200 */
  treeUpdateMs?: number;
}

export type ResolvedAntiEntropyConfig = Required<AntiEntropyConfig>;

export function resolveAntiEntropyConfig(input: AntiEntropyConfig | undefined, problems: string[]): ResolvedAntiEntropyConfig {
  const defaults: ResolvedAntiEntropyConfig = {
    enabled: true,
    intervalMs: DEFAULT_AAE_INTERVAL_MS,
    maxKeysPerExchange: DEFAULT_AAE_MAX_KEYS_PER_EXCHANGE,
    batchSize: DEFAULT_AAE_BATCH_SIZE,
    maxKeysPerSecond: DEFAULT_AAE_MAX_KEYS_PER_SECOND,
    treeUpdateMs: DEFAULT_AAE_TREE_UPDATE_MS,
  };
  if (input === undefined) return defaults;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    problems.push('ring.antiEntropy: must be an object');
    return defaults;
  }
  const known = new Set(Object.keys(defaults));
  for (const k of Object.keys(input)) if (!known.has(k)) problems.push(`ring.antiEntropy.${k}: unknown setting`);
  const int = (field: Exclude<keyof AntiEntropyConfig, 'enabled'>, min: number, max: number): number => {
    const v = input[field];
    if (v === undefined) return defaults[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`ring.antiEntropy.${field}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return defaults[field];
    }
    return v;
  };
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean')
    problems.push(`ring.antiEntropy.enabled: must be true or false, got ${JSON.stringify(input.enabled)}`);
  const resolved: ResolvedAntiEntropyConfig = {
    enabled: typeof input.enabled === 'boolean' ? input.enabled : true,
    intervalMs: int('intervalMs', 10, 86_400_000),
    maxKeysPerExchange: int('maxKeysPerExchange', 1, 1_000_000),
    batchSize: int('batchSize', 1, 10_000),
    maxKeysPerSecond: int('maxKeysPerSecond', 1, 10_000_000),
    treeUpdateMs: int('treeUpdateMs', 10, 60_000),
  };
  return resolved;
}
