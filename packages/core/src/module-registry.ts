/**
 * The allow-list of functions a node will run for `route`. Nothing that is not registered is
 * ever evaluated. Each function declares its kind, which replication strategies rely on:
 * `read` functions may be asked of several replicas and merged, `write` functions are applied
 * on every replica, `plain` functions run once on the owner.
 *
 * @example
 * const registry = createModuleRegistry();
 * registry.register('Math', 'add', { kind: 'plain', arity: 2, fn: (_ctx, a, b) => a + b });
 */
import { ArgumentError, UndefinedFunctionError } from './errors.js';
import type { BucketName } from './bucket-name.js';

export type FunctionKind = 'plain' | 'read' | 'write';

/** What a registered function receives besides its arguments. */
export interface CallContext {
  /** The node the function runs on. */
  readonly node: string;
  /** The bucket the call was routed by. */
  readonly bucket: BucketName;
  /** Strategy-specific extras (the ring passes version information here). */
  readonly meta: Readonly<Record<string, unknown>>;
}

export type RegisteredFn = (ctx: CallContext, ...args: any[]) => unknown;

export interface FunctionDef {
  readonly kind: FunctionKind;
  /** Number of arguments; omit to accept any number. */
  readonly arity?: number;
  readonly fn: RegisteredFn;
}

const KINDS: readonly FunctionKind[] = ['plain', 'read', 'write'];

export interface ModuleRegistry {
  register(mod: string, fun: string, def: FunctionDef): void;
  /** Registers several functions of one module. */
  registerModule(mod: string, funs: Record<string, FunctionDef>): void;
  lookup(mod: string, fun: string, arity: number): FunctionDef | undefined;
  /** Like lookup, but throws {@link UndefinedFunctionError} naming `Mod.fun/arity` and `node`. */
  resolve(mod: string, fun: string, arity: number, node: string): FunctionDef;
  /** `Mod.fun/arity` names of everything registered. */
  list(): string[];
  /** Everything registered, as values (sorted by module, then function). */
  entries(): RegisteredEntry[];
}

/** One registered function, as {@link ModuleRegistry.entries} lists it. */
export interface RegisteredEntry {
  readonly mod: string;
  readonly fun: string;
  /** Undefined: any number of arguments. */
  readonly arity: number | undefined;
  readonly kind: FunctionKind;
}

/** A registry holding the built-ins (`Kernel.node`) unless `builtins` is false. */
export function createModuleRegistry(options: { builtins?: boolean } = {}): ModuleRegistry {
  // Module, then function: a lookup per call hashes the two names as they are (constants,
  // usually) instead of building and hashing a concatenated key.
  const table = new Map<string, Map<string, FunctionDef>>();

  const registry: ModuleRegistry = {
    register(mod, fun, def) {
      if (typeof mod !== 'string' || mod === '') throw new ArgumentError('module name must be a non-empty string');
      if (typeof fun !== 'string' || fun === '') throw new ArgumentError('function name must be a non-empty string');
      if (!def || typeof def.fn !== 'function') throw new ArgumentError(`${mod}.${fun}: fn must be a function`);
      if (!KINDS.includes(def.kind)) {
        throw new ArgumentError(`${mod}.${fun}: kind must be one of ${KINDS.join(', ')}, got ${String(def.kind)}`);
      }
      if (def.arity !== undefined && !(Number.isInteger(def.arity) && def.arity >= 0)) {
        throw new ArgumentError(`${mod}.${fun}: arity must be a non-negative integer`);
      }
      let funs = table.get(mod);
      if (!funs) table.set(mod, (funs = new Map()));
      funs.set(fun, Object.freeze({ ...def }));
    },
    registerModule(mod, funs) {
      for (const [fun, def] of Object.entries(funs)) registry.register(mod, fun, def);
    },
    lookup(mod, fun, arity) {
      const def = table.get(mod)?.get(fun);
      if (!def) return undefined;
      if (def.arity !== undefined && def.arity !== arity) return undefined;
      return def;
    },
    resolve(mod, fun, arity, node) {
      const def = registry.lookup(mod, fun, arity);
      if (!def) {
        throw new UndefinedFunctionError(
          `function ${String(mod)}.${String(fun)}/${arity} is undefined or not registered on node ${node}`,
        );
      }
      return def;
    },
    list() {
      const names: string[] = [];
      for (const [mod, funs] of table) for (const [fun, def] of funs) names.push(`${mod}.${fun}/${def.arity ?? '*'}`);
      return names.sort();
    },
    entries() {
      const out: RegisteredEntry[] = [];
      for (const [mod, funs] of table) for (const [fun, def] of funs) out.push({ mod, fun, arity: def.arity, kind: def.kind });
      return out.sort((a, b) => (a.mod < b.mod ? -1 : a.mod > b.mod ? 1 : a.fun < b.fun ? -1 : a.fun > b.fun ? 1 : 0));
    },
  };

  if (options.builtins !== false) {
    registry.register('Kernel', 'node', { kind: 'plain', arity: 0, fn: (ctx) => ctx.node });
  }
  return registry;
}
