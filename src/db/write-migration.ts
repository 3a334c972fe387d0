/**
 * Writing a new migration without the Prisma CLI (`npm run db:migration`), like
 * `prisma migrate dev --create-only`: the schema engine (schema-engine.ts) diffs the existing
 * migrations, replayed on throwaway in-memory PGlite databases, against the Prisma schema.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { defaultMigrationsDir, defaultSchemaPath, lockfileContent, lockfileName, migrationFileName, readMigrationsList } from './migrations.js';
import { MigrationFactory, noFilters, withEngine } from './schema-engine.js';

/** Options of {@link writeMigration}. */
export interface WriteMigrationOptions {
  /** The Prisma schema to migrate to. Default: `prisma/schema.prisma` at the project root. */
  schemaPath?: string;
  /** The migrations directory. Default: `prisma/migrations` at the project root. */
  migrationsDir?: string;
}

/**
 * Writes a new migration with the SQL that takes a database from the existing migrations to the
 * current Prisma schema, like `prisma migrate dev --create-only`.
 *
 * The existing migrations are replayed on throwaway in-memory PGlite databases, never on a live
 * database (and, unlike `migrate dev`, nothing is applied anywhere).
 *
 * @param name Describes the change; reduced to `[a-z0-9_]` for the directory name.
 * @returns The path of the new `migration.sql`, or `null` (and nothing written) when the schema
 *   already matches the migrations.
 */
export async function writeMigration(
  name: string,
  { schemaPath = defaultSchemaPath, migrationsDir = defaultMigrationsDir }: WriteMigrationOptions = {},
): Promise<string | null> {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!slug) throw new Error(`Migration name ${JSON.stringify(name)} has no letters or digits`);

  const schemaFile = path.resolve(schemaPath);
  const schema = await readFile(schemaFile, 'utf8');
  const migrationsList = await readMigrationsList(migrationsDir);

  const databases: PGlite[] = [];
  let mainUsedAsShadow = false;
  const open = () => {
    const db = new PGlite();
    databases.push(db);
    return new PrismaPGlite(db).connect();
  };
  const throwaway: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'postgres',
    adapterName: 'pglite-prisma-adapter',
    connect: open,
    // The engine only asks the main connection for its version, so the first shadow database
    // can be that same PGlite: starting one costs about a second. (The adapter's own shadow
    // database is a PGlite it never closes; ours are closed below.)
    connectToShadowDb: () => {
      const reuse = !mainUsedAsShadow && databases.length === 1;
      mainUsedAsShadow = true;
      return reuse ? new PrismaPGlite(databases[0]).connect() : open();
    },
  };

  let script: string;
  let changed: boolean;
  try {
    const result = await withEngine(
      [schemaFile, schema],
      new MigrationFactory(throwaway, false),
      undefined,
      (engine) =>
        engine.diff({
          // The engine reads the provider from the lockfile, which a first migration lacks.
          from:
            migrationsList.migrationDirectories.length === 0
              ? { tag: 'empty' }
              : {
                  tag: 'migrations',
                  ...migrationsList,
                  lockfile: {
                    ...migrationsList.lockfile,
                    content: migrationsList.lockfile.content ?? lockfileContent,
                  },
                },
          to: { tag: 'schemaDatamodel', files: [{ path: schemaFile, content: schema }] },
          script: true,
          // Makes the engine say whether anything differs (exit code 2), rather than us parsing
          // its "-- This is an empty migration." placeholder.
          exitCode: true,
          filters: noFilters,
        }),
    );
    changed = result.exitCode === 2;
    script = result.stdout ?? '';
  } finally {
    await Promise.allSettled(databases.map((db) => db.close()));
  }
  if (!changed) return null;

  const dir = path.join(migrationsList.baseDir, `${utcTimestamp(new Date())}_${slug}`);
  await mkdir(migrationsList.baseDir, { recursive: true });
  // Not recursive: refuse to overwrite a migration written within the same second.
  await mkdir(dir);
  const file = path.join(dir, migrationFileName);
  await writeFile(file, script);
  if (migrationsList.lockfile.content === null) {
    await writeFile(path.join(migrationsList.baseDir, lockfileName), lockfileContent);
  }
  return file;
}

/** `YYYYMMDDHHMMSS` in UTC, the prefix Prisma gives migration directories. */
function utcTimestamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    String(date.getUTCFullYear()) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds())
  );
}
