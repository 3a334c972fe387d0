/**
 * Opens the database: PostgreSQL when a URL is given, otherwise the embedded PGlite (PostgreSQL
 * compiled to WebAssembly, in this process). One Prisma schema and one set of migrations serve
 * both, through Prisma driver adapters.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type {
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQueryable,
} from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Logger } from 'pino';
import { PrismaClient, type Prisma } from '../generated/prisma/client.js';
import { rowsOf, toSqlQuery, type SqlRows } from './raw.js';
import { applyMigrations } from './migrations.js';
import { statementNamer } from './statement-names.js';

/** The `dataDir` that keeps the embedded database in memory only (tests). */
export const IN_MEMORY = 'memory://';

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** A PostgreSQL connection string. When absent, the embedded PGlite database is used. */
  databaseUrl?: string;
  /**
   * The directory the embedded PGlite database lives in (created when missing), or
   * {@link IN_MEMORY} (`memory://`) for a database in memory. Unused with `databaseUrl`.
   */
  dataDir: string;
  /** Gets the migrations applied (info) and pool errors (warn). Default: silent. */
  logger?: Logger;
  /** PostgreSQL connections kept by the app's pool. Default: 10. Unused with PGlite. */
  poolSize?: number;
  /**
   * How many statements (texts run more than once) are kept prepared on each PostgreSQL
   * connection (statement-names.ts); 0 prepares none. Default: 256. Unused with PGlite.
   */
  statementCache?: number;
  /** The migrations directory for `migrate()`. Default: `prisma/migrations` at the project root. */
  migrationsDir?: string;
}

/**
 * What the app's Prisma client has sent to the database since it opened, counted at the driver
 * adapter, so every SQL statement Prisma runs is seen (whatever the query API used) and nothing
 * else is (migrations run on their own connection and are not counted). For metrics, and for
 * tests that prove a cost, such as fan-out costing no query per subscriber.
 */
export interface DatabaseStats {
  /**
   * SQL statements executed. Includes the COMMIT or ROLLBACK Prisma sends itself on PostgreSQL;
   * PGlite's adapter wraps transactions without separate statements, so compare counts on the
   * same kind of database.
   */
  statements: number;
  /** Transactions started. */
  transactions: number;
}

/** An open database; see {@link openDatabase}. */
export interface Database {
  /** The Prisma client, connected through the driver adapter. */
  prisma: PrismaClient;
  /** Which database is behind `prisma`. */
  kind: 'pglite' | 'postgres';
  /** The driver adapter factory behind `prisma` (without the counting); migrations run through it. */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /**
   * Runs one of the app's own statements on `prisma`'s driver adapter, without Prisma's client
   * (src/db/raw.ts): for the statements that run per message. Counted in `stats` like the rest.
   */
  rows: SqlRows;
  /** Live counters of what `prisma` sent; read them before and after to measure a cost. */
  readonly stats: Readonly<DatabaseStats>;
  /**
   * Applies pending migrations (see `applyMigrations`); returns the names applied. Calls on one
   * embedded database take turns.
   */
  migrate(): Promise<string[]>;
  /** Resolves once the database answers `SELECT 1`; rejects otherwise. */
  ping(): Promise<void>;
  /** Disconnects Prisma and closes PGlite or the pool. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens PostgreSQL (`databaseUrl`) or the embedded PGlite database (`dataDir`) behind one Prisma
 * client. Does not migrate: call `migrate()` once at start.
 *
 * On PGlite, interactive transactions run one at a time (PGlite is a single session): concurrent
 * `prisma.$transaction(async (tx) => ...)` calls queue, and a query on the root client inside a
 * transaction waits until that transaction ends, so always use `tx` there.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { databaseUrl, dataDir, logger, poolSize = 10, statementCache = 256, migrationsDir } = options;

  let kind: Database['kind'];
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let pglite: PGlite | undefined;
  if (databaseUrl) {
    kind = 'postgres';
    // A config rather than a pool: every connect() makes its own pool, which Prisma closes on
    // disconnect and a migration run closes when done; a shared pool could not lend a migration
    // its two connections when poolSize is 1.
    adapterFactory = new PrismaPg(
      { connectionString: databaseUrl, max: poolSize },
      {
        onPoolError: (err) => logger?.warn({ err }, 'idle database connection failed'),
        onConnectionError: (err) => logger?.warn({ err }, 'database connection failed'),
        statementNameGenerator: statementNamer(statementCache),
      },
    );
  } else {
    kind = 'pglite';
    const inMemory = dataDir === IN_MEMORY;
    if (!inMemory) await mkdir(dataDir, { recursive: true });
    pglite = await PGlite.create(inMemory ? undefined : dataDir);
    adapterFactory = new PrismaPGlite(pglite);
  }

  const stats: DatabaseStats = { statements: 0, transactions: 0 };
  // The adapter Prisma connected (there is one per client): `rows` runs on it too.
  let connected: SqlDriverAdapter | null = null;
  const prisma = new PrismaClient({
    adapter: countingFactory(adapterFactory, stats, (adapter) => (connected = adapter)),
    // The default 2 s wait to start a transaction is short when PGlite runs transactions one at
    // a time; on PostgreSQL a wait that long means an exhausted pool either way.
    transactionOptions: kind === 'pglite' ? { maxWait: 10_000 } : {},
  });

  // PGlite is a single session, where the advisory lock that keeps PostgreSQL runs apart is
  // re-entrant and excludes nothing, so this database's runs take turns here. Per database, not
  // per process: runs on two PGlite databases share only the engine's wasm instance, which keeps
  // no state of a run (test/db.test.ts applies to two at once).
  let migrating: Promise<unknown> = Promise.resolve();
  const migrate = () => {
    if (kind === 'postgres') return applyMigrations(adapterFactory, { migrationsDir, logger });
    const run = migrating.then(() => applyMigrations(adapterFactory, { migrationsDir, logger }));
    migrating = run.catch(() => undefined);
    return run;
  };

  let closing: Promise<void> | undefined;
  return {
    prisma,
    kind,
    adapterFactory,
    stats,
    migrate,
    async rows<T>(statement: Prisma.Sql): Promise<T[]> {
      if (!connected) await prisma.$connect();
      return rowsOf<T>(await connected!.queryRaw(toSqlQuery(statement)));
    },
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    close() {
      closing ??= (async () => {
        try {
          await prisma.$disconnect();
        } finally {
          await pglite?.close();
        }
      })();
      return closing;
    },
  };
}

/**
 * Wraps a driver adapter factory so that its connections count statements and transactions.
 * The wrappers forward everything else untouched to the adapter (bound to it, so the adapter's
 * own fields and getters keep working).
 */
function countingFactory(
  factory: SqlDriverAdapterFactory,
  stats: DatabaseStats,
  onConnect: (adapter: SqlDriverAdapter) => void,
): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect() {
      const adapter = await factory.connect();
      const wrapped = counting<SqlDriverAdapter>(adapter, stats, {
        startTransaction: async (isolationLevel?: Parameters<SqlDriverAdapter['startTransaction']>[0]) => {
          const tx = await adapter.startTransaction(isolationLevel);
          stats.transactions++;
          return counting(tx, stats, {});
        },
      });
      onConnect(wrapped);
      return wrapped;
    },
  };
}

function counting<T extends SqlQueryable>(target: T, stats: DatabaseStats, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(obj, prop) {
      if (prop in overrides) return overrides[prop as keyof T];
      if (prop === 'queryRaw' || prop === 'executeRaw' || prop === 'executeScript') {
        const method = (obj as unknown as Record<string, (arg: unknown) => Promise<unknown>>)[prop]!;
        return (arg: unknown) => {
          stats.statements++;
          return method.call(obj, arg);
        };
      }
      const value: unknown = Reflect.get(obj, prop, obj);
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
}
