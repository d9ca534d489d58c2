/**
 * A tiny versioned store speaking the replication contract (core's replication.ts), so the
 * coordinator can be tested on its own. Module `T`: put/get/del on (bucket, key); plus the
 * `Replica` module. Values are strings to keep assertions short.
 */
import {
  bucketBytes,
  mergeSiblings,
  replicaMeta,
  type ModuleRegistry,
  type Sibling,
  type VersionedObject,
} from '@ringkv/core';

type Obj = { bucket: Uint8Array; key: Uint8Array; siblings: Sibling[] };

export interface FakeStore {
  register(modules: ModuleRegistry): void;
  /** Siblings held as primary for (bucket, key). */
  primary(bucket: string, key: string): Sibling[];
  /** Siblings held for `owner` as hints. */
  hinted(owner: string, bucket: string, key: string): Sibling[];
  hintCount(owner: string): number;
  clear(): void;
}

const enc = new TextEncoder();
const id = (bucket: Uint8Array, key: Uint8Array) => `${Buffer.from(bucket).toString('hex')}/${Buffer.from(key).toString('hex')}`;

export function createFakeStore(): FakeStore {
  const primary = new Map<string, Obj>();
  const hints = new Map<string, Map<string, Obj>>();
  // Anti-entropy's change log: every primary-area change, in order (tests are small: no bound).
  let changeSeq = 1;
  let changed = new Map<string, number>();
  let logReset = true;
  const touched = (k: string) => {
    changed.delete(k);
    changed.set(k, ++changeSeq);
  };

  const area = (hintFor?: string | null) => {
    if (!hintFor) return primary;
    let m = hints.get(hintFor);
    if (!m) hints.set(hintFor, (m = new Map()));
    return m;
  };
  function mergeInto(target: Map<string, Obj>, o: VersionedObject): void {
    const b = bucketBytes(o.bucket);
    const k = id(b, o.key);
    const held = target.get(k);
    target.set(k, { bucket: b, key: o.key, siblings: mergeSiblings(held?.siblings ?? [], o.siblings) });
    if (target === primary) touched(k);
  }
  const current = (k: string, bucket: Uint8Array, key: Uint8Array): Obj => primary.get(k) ?? { bucket, key, siblings: [] };
  function view(bucket: Uint8Array, key: Uint8Array): Obj {
    const k = id(bucket, key);
    let siblings: Sibling[] = primary.get(k)?.siblings ?? [];
    for (const m of hints.values()) siblings = mergeSiblings(siblings, m.get(k)?.siblings ?? []);
    return { bucket, key, siblings };
  }
  function write(ctx: { meta: Readonly<Record<string, unknown>> }, bucket: string, key: string, sibling: Omit<Sibling, 'version'>) {
    const meta = replicaMeta(ctx.meta);
    if (meta?.mode !== 'write') throw new Error('fake store: writes need replica meta');
    if (typeof key !== 'string' || key === '') throw new TypeError('key must be a non-empty string');
    mergeInto(area(meta.hintFor), { bucket: enc.encode(bucket), key: enc.encode(key), siblings: [{ ...sibling, version: meta.version }] });
    return 'ok';
  }

  return {
    register(modules) {
      modules.registerModule('T', {
        put: { kind: 'write', arity: 3, fn: (ctx, b: string, k: string, v: string) => write(ctx, b, k, { value: v }) },
        del: { kind: 'write', arity: 2, fn: (ctx, b: string, k: string) => write(ctx, b, k, { value: null, tombstone: true }) },
        get: {
          kind: 'read',
          arity: 2,
          fn: (ctx, b: string, k: string) => {
            const meta = replicaMeta(ctx.meta);
            if (meta?.mode === 'read') return { objects: [view(enc.encode(b), enc.encode(k))] };
            if (meta?.mode === 'resolve') {
              const live = (meta.objects[0]?.siblings ?? []).filter((s) => !s.tombstone);
              if (live.length > 1) return { siblings: live.map((s) => s.value) };
              return { value: live[0]?.value ?? null };
            }
            throw new Error('fake store: reads need replica meta');
          },
        },
      });
      modules.registerModule('Replica', {
        merge: {
          kind: 'write',
          arity: 2,
          fn: (_ctx, objects: VersionedObject[], hintFor: string | null) => {
            for (const o of objects) mergeInto(area(hintFor), o);
            return 'ok';
          },
        },
        hinted: {
          kind: 'read',
          arity: 2,
          fn: (_ctx, owner: string, limit: number) => [...(hints.get(owner)?.values() ?? [])].slice(0, limit),
        },
        dropHinted: {
          kind: 'write',
          arity: 2,
          fn: (_ctx, owner: string, objects: VersionedObject[]) => {
            const m = hints.get(owner);
            for (const o of objects) {
              const k = id(bucketBytes(o.bucket), o.key);
              const held = m?.get(k);
              // Only if nothing newer arrived meanwhile.
              if (held && JSON.stringify(mergeSiblings(o.siblings, held.siblings)) === JSON.stringify(mergeSiblings(o.siblings, []))) m!.delete(k);
            }
            return 'ok';
          },
        },
        reap: {
          kind: 'write',
          arity: 1,
          fn: (_ctx, olderThanTs: number) => {
            for (const [k, o] of primary) {
              if (o.siblings.every((s) => s.tombstone && s.version.ts < olderThanTs)) {
                primary.delete(k);
                touched(k);
              }
            }
            return 'ok';
          },
        },
        scan: {
          kind: 'read',
          arity: 2,
          fn: (_ctx, after: Uint8Array | null, limit: number) => {
            const from = after ? Buffer.from(after).toString('latin1') : undefined;
            const ids = [...primary.keys()].sort().filter((k) => from === undefined || k > from);
            const page = ids.slice(0, limit);
            return {
              objects: page.map((k) => primary.get(k)!),
              next: ids.length > limit && limit > 0 ? new Uint8Array(Buffer.from(page.at(-1)!, 'latin1')) : null,
            };
          },
        },
        changes: {
          kind: 'read',
          arity: 2,
          fn: (_ctx, since: number, limit: number) => {
            if (logReset || since === 0) {
              logReset = false;
              changed = new Map();
              return { reset: true, seq: changeSeq, objects: [], more: false };
            }
            const out: Obj[] = [];
            let last = since;
            for (const [k, seq] of changed) {
              if (seq <= since) {
                changed.delete(k);
                continue;
              }
              if (out.length >= limit) return { reset: false, seq: last, objects: out, more: true };
              const [b, key] = k.split('/').map((h) => new Uint8Array(Buffer.from(h, 'hex')));
              out.push(current(k, b!, key!));
              last = seq;
            }
            return { reset: false, seq: out.length ? last : changeSeq, objects: out, more: false };
          },
        },
        fetch: {
          kind: 'read',
          arity: 1,
          fn: (_ctx, refs: Array<{ bucket: Uint8Array; key: Uint8Array }>) =>
            refs.map((r) => current(id(bucketBytes(r.bucket), r.key), bucketBytes(r.bucket), r.key)),
        },
        reapExact: {
          kind: 'write',
          arity: 1,
          fn: (_ctx, objects: VersionedObject[]) => {
            let n = 0;
            for (const o of objects) {
              const k = id(bucketBytes(o.bucket), o.key);
              const held = primary.get(k);
              const same = held && JSON.stringify(mergeSiblings(held.siblings, [])) === JSON.stringify(mergeSiblings(o.siblings, []));
              if (same && held.siblings.every((s) => s.tombstone)) {
                primary.delete(k);
                touched(k);
                n++;
              }
            }
            return n;
          },
        },
      });
    },
    primary: (b, k) => primary.get(id(enc.encode(b), enc.encode(k)))?.siblings ?? [],
    hinted: (owner, b, k) => hints.get(owner)?.get(id(enc.encode(b), enc.encode(k)))?.siblings ?? [],
    hintCount: (owner) => hints.get(owner)?.size ?? 0,
    clear() {
      primary.clear();
      hints.clear();
      changed.clear();
      logReset = true;
    },
  };
}
