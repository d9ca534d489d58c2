import { createModuleRegistry, type ModuleRegistry } from '@ringkv/core';
import type { Store } from '@ringkv/store';

export const bytes = (...b: number[]) => new Uint8Array(b);
export const utf8 = (s: string) => new TextEncoder().encode(s);

/** Calls registered functions directly, as the router would on the owning node. */
export interface DirectCaller {
  modules: ModuleRegistry;
  call(mod: string, fun: string, args: unknown[], meta?: Record<string, unknown>): Promise<unknown>;
}

export function directCaller(store: Store, node = 'test@host'): DirectCaller {
  const modules = createModuleRegistry();
  store.register(modules);
  return {
    modules,
    async call(mod, fun, args, meta = {}) {
      const bucket = (args[0] ?? 'x') as string | Uint8Array;
      const def = modules.resolve(mod, fun, args.length, node);
      return def.fn({ node, bucket, meta }, ...args);
    },
  };
}

let counter = 0;
/** A key prefix no other test uses (ioredis-mock instances share one data set). */
export const uniquePrefix = (label: string) => `test:${label}:${process.pid}:${++counter}:`;
