/**
 * Prisma's schema engine, compiled to WebAssembly (`@prisma/schema-engine-wasm`, the build that
 * matches prisma 7.10.0), driven through the app's driver adapters: loading it once per process,
 * the fixes the adapters need to run migrations the way the native engine does, and one engine
 * run with the connections it opened closed afterwards. Used by migrations.ts (applying) and
 * write-migration.ts (writing).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  bindMigrationAwareSqlAdapterFactory,
  DriverAdapterError,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
} from '@prisma/driver-adapter-utils';
import * as engineBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { Logger } from 'pino';

/**
 * The key of the session lock that Prisma's schema engine (native and wasm) takes before applying
 * migrations on PostgreSQL. We take the same key so that a `prisma migrate deploy` run elsewhere
 * also waits for us.
 */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;
/**
 * The engine's own lock statement, which PostgreSQL runs skip (see `applyMigrations` in
 * migrations.ts). Should a future engine word it differently, it would wait on our lock forever;
 * the concurrent-apply test on PostgreSQL (test/db.test.ts) would then time out.
 */
const engineLockSql = /^\s*SELECT\s+pg_advisory_lock\(\s*72707369\s*\)\s*$/i;

/** No external tables or enums: the schema is the whole database. */
export const noFilters: SchemaFilter = { externalTables: [], externalEnums: [] };

// ---------------------------------------------------------------------------------------------
// The wasm engine
// ---------------------------------------------------------------------------------------------

type EngineBindings = typeof engineBindings;

// Node has WebAssembly, but this project's libs (ES2023, @types/node 20) do not declare it.
declare const WebAssembly: {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, object>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
};

/**
 * The wasm-bindgen glue keeps the instance in a module-level variable, and Node keeps one copy of
 * that glue per process. Caching on globalThis rather than in this module means a second copy of
 * this module (vitest re-evaluates project modules per test file) reuses the instance instead of
 * swapping the glue's memory under engines that are still alive.
 */
const wasmCacheKey = Symbol.for('chat-backend.schema-engine-wasm');
type WasmCache = { [wasmCacheKey]?: Promise<EngineBindings> };

function loadEngineBindings(): Promise<EngineBindings> {
  const cache = globalThis as WasmCache;
  cache[wasmCacheKey] ??= (async () => {
    // The package's main entry imports the .wasm as an ES module, which Node cannot do; the glue
    // module is importable, and the binary sits beside it.
    const gluePath = createRequire(import.meta.url).resolve(
      '@prisma/schema-engine-wasm/schema_engine_bg',
    );
    const bytes = await readFile(gluePath.replace(/\.js$/, '.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, {
      './schema_engine_bg.js': engineBindings,
    });
    engineBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return engineBindings;
  })();
  const loading = cache[wasmCacheKey];
  loading.catch(() => {
    // Let a later call retry instead of caching the failure forever.
    if (cache[wasmCacheKey] === loading) delete cache[wasmCacheKey];
  });
  return loading;
}

/** Forwards the engine's JSON log lines to pino; at debug, since they include whole scripts. */
function engineLogCallback(logger: Logger | undefined): (line: string) => void {
  return (line: string) => {
    if (!logger) return;
    try {
      const entry = JSON.parse(line) as { level?: string; fields?: Record<string, unknown> };
      const { message, ...fields } = entry.fields ?? {};
      const text = typeof message === 'string' ? message : 'schema engine';
      if (entry.level === 'ERROR' || entry.level === 'WARN') logger.warn({ engine: fields }, text);
      else logger.debug({ engine: fields }, text);
    } catch {
      logger.debug({ line }, 'schema engine');
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Adapter fixes for the engine
// ---------------------------------------------------------------------------------------------

/** Runs a whole migration script as one simple query, as the native engine does. */
type ScriptRunner = (script: string) => Promise<void>;

type PgLikePool = { query(text: string): Promise<unknown> };
type PGliteLike = { exec(script: string): Promise<unknown> };

function hasFunction<K extends string>(value: unknown, key: K): value is Record<K, (...args: never[]) => unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[key] === 'function'
  );
}

/**
 * The adapters' own `executeScript` is wrong for migrations, both checked with a failing script:
 * `@prisma/adapter-pg` splits the script on every `;` (breaking `$$` bodies and string literals)
 * and sends each piece on its own, so a failure leaves the migration half applied; and
 * `pglite-prisma-adapter` does not await `exec`, so the engine records a failed migration as
 * applied and the error surfaces as an unhandled rejection. Sending the script as one simple
 * query makes PostgreSQL run it as one implicit transaction, like the native engine.
 */
function scriptRunnerFor(adapter: SqlDriverAdapter): ScriptRunner | undefined {
  // @prisma/adapter-pg exposes its pg.Pool; a pool query without values uses the simple protocol.
  if (hasFunction(adapter, 'underlyingDriver')) {
    const driver: unknown = adapter.underlyingDriver();
    if (hasFunction(driver, 'query')) {
      const pool = driver as PgLikePool;
      return async (script) => {
        try {
          await pool.query(script);
        } catch (error) {
          throw asDriverAdapterError(error);
        }
      };
    }
  }
  // pglite-prisma-adapter keeps its PGlite in `client` (pinned version; see package.json).
  const client: unknown = (adapter as unknown as { client?: unknown }).client;
  if (hasFunction(client, 'exec')) {
    const pglite = client as PGliteLike;
    return async (script) => {
      try {
        await pglite.exec(script);
      } catch (error) {
        throw asDriverAdapterError(error);
      }
    };
  }
  return undefined;
}

/** Gives the engine PostgreSQL's own message, code and detail rather than "external error". */
function asDriverAdapterError(error: unknown): unknown {
  if (error instanceof DriverAdapterError) return error;
  const e = error as Partial<Record<'code' | 'severity' | 'message' | 'detail' | 'column' | 'hint', unknown>>;
  if (typeof e?.code === 'string' && typeof e.message === 'string') {
    const optional = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return new DriverAdapterError({
      kind: 'postgres',
      code: e.code,
      severity: typeof e.severity === 'string' ? e.severity : 'ERROR',
      message: e.message,
      detail: optional(e.detail),
      column: optional(e.column),
      hint: optional(e.hint),
      originalCode: e.code,
      originalMessage: e.message,
    });
  }
  return error;
}

const emptyResult: SqlResultSet = { columnNames: [], columnTypes: [], rows: [] };

/** The engine's own connection, with a proper script runner and, optionally, without its lock. */
class MigrationAdapter implements SqlDriverAdapter {
  readonly provider: SqlDriverAdapter['provider'];
  readonly adapterName: string;
  private readonly runScript: ScriptRunner;

  constructor(
    private readonly inner: SqlDriverAdapter,
    private readonly skipEngineLock: boolean,
  ) {
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
    this.runScript = scriptRunnerFor(inner) ?? ((script) => inner.executeScript(script));
  }

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    if (this.skipEngineLock && engineLockSql.test(query.sql)) return Promise.resolve(emptyResult);
    return this.inner.queryRaw(query);
  }

  executeRaw(query: SqlQuery): Promise<number> {
    if (this.skipEngineLock && engineLockSql.test(query.sql)) return Promise.resolve(0);
    return this.inner.executeRaw(query);
  }

  executeScript(script: string): Promise<void> {
    return this.runScript(script);
  }

  startTransaction(...args: Parameters<SqlDriverAdapter['startTransaction']>): Promise<Transaction> {
    return this.inner.startTransaction(...args);
  }

  getConnectionInfo(): ReturnType<NonNullable<SqlDriverAdapter['getConnectionInfo']>> {
    return this.inner.getConnectionInfo?.() ?? { supportsRelationJoins: true };
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

/**
 * Wraps a factory for one engine run. The engine never disposes the connections it opens, so the
 * run keeps track of them and closes them itself.
 */
export class MigrationFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider: SqlMigrationAwareDriverAdapterFactory['provider'];
  readonly adapterName: string;
  private readonly opened: SqlDriverAdapter[] = [];

  constructor(
    private readonly inner: SqlMigrationAwareDriverAdapterFactory,
    private readonly skipEngineLock: boolean,
  ) {
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
  }

  async connect(): Promise<SqlDriverAdapter> {
    return this.track(await this.inner.connect());
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    return this.track(await this.inner.connectToShadowDb());
  }

  private track(adapter: SqlDriverAdapter): SqlDriverAdapter {
    const wrapped = new MigrationAdapter(adapter, this.skipEngineLock);
    this.opened.push(wrapped);
    return wrapped;
  }

  /** Disposes every connection the engine opened; errors are ignored, as nothing is pending. */
  async disposeAll(): Promise<void> {
    const opened = this.opened.splice(0);
    await Promise.allSettled(opened.map((adapter) => adapter.dispose()));
  }
}

export async function withEngine<T>(
  datamodel: [string, string],
  factory: MigrationFactory,
  logger: Logger | undefined,
  run: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const bindings = await loadEngineBindings();
  try {
    const engine = await bindings.SchemaEngine.new(
      { datamodels: [datamodel] },
      engineLogCallback(logger),
      bindMigrationAwareSqlAdapterFactory(factory),
    );
    try {
      return await run(engine);
    } finally {
      engine.free();
    }
  } finally {
    await factory.disposeAll();
  }
}
