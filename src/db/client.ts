/**
 * Opens the database: PostgreSQL when a URL is given, otherwise the embedded PGlite (PostgreSQL
 * compiled to WebAssembly, in this process). One Prisma schema and one set of migrations serve
 * both, through Prisma driver adapters.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Logger } from 'pino';
import { PrismaClient } from '../generated/prisma/client.js';
import { applyMigrations } from './migrations.js';

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
  /** The migrations directory for `migrate()`. Default: `prisma/migrations` at the project root. */
  migrationsDir?: string;
}

/** An open database; see {@link openDatabase}. */
export interface Database {
  /** The Prisma client, connected through the driver adapter. */
  prisma: PrismaClient;
  /** Which database is behind `prisma`. */
  kind: 'pglite' | 'postgres';
  /** The driver adapter factory `prisma` uses; migrations run through it too. */
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Applies pending migrations (see `applyMigrations`); returns the names applied. */
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
  const { databaseUrl, dataDir, logger, poolSize = 10, migrationsDir } = options;

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
      },
    );
  } else {
    kind = 'pglite';
    const inMemory = dataDir === IN_MEMORY;
    if (!inMemory) await mkdir(dataDir, { recursive: true });
    pglite = await PGlite.create(inMemory ? undefined : dataDir);
    adapterFactory = new PrismaPGlite(pglite);
  }

  const prisma = new PrismaClient({
    adapter: adapterFactory,
    // The default 2 s wait to start a transaction is short when PGlite runs transactions one at
    // a time; on PostgreSQL a wait that long means an exhausted pool either way.
    transactionOptions: kind === 'pglite' ? { maxWait: 10_000 } : {},
  });

  let closing: Promise<void> | undefined;
  return {
    prisma,
    kind,
    adapterFactory,
    migrate: () => applyMigrations(adapterFactory, { migrationsDir, logger }),
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
