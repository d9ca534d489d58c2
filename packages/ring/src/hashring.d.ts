// hashring ships no types; this declares the part ringkv uses.
declare module 'hashring' {
  interface HashRingPoint {
    readonly value: number;
    readonly server: string;
  }
  class HashRing {
    constructor(
      servers: Record<string, { vnodes?: number; weight?: number }> | string[],
      algorithm?: string,
      options?: { 'vnode count'?: number; replicas?: number; 'max cache size'?: number },
    );
    /** The continuum, sorted by point value. */
    readonly ring: readonly HashRingPoint[];
    readonly size: number;
    get(key: string): string | undefined;
    /** The first `size` distinct servers clockwise from the key's point. */
    range(key: string, size?: number, unique?: boolean): string[];
    find(hashValue: number): number;
    hashValue(key: string): number;
  }
  export = HashRing;
}
