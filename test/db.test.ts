/**
 * The database layer against real databases: the embedded PGlite always, and PostgreSQL when
 * DATABASE_URL is set (the CI's second run), each test on a freshly created database.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/client.js';
import { applyMigrations, defaultMigrationsDir, defaultSchemaPath, isCurrent } from '../src/db/migrations.js';
import { writeMigration } from '../src/db/write-migration.js';
import { isUniqueViolation } from '../src/db/errors.js';
import { Prisma } from '../src/generated/prisma/client.js';
import { appendStatement } from '../src/modules/conversations/append-statement.js';

const migrationNames = (await readdir(defaultMigrationsDir, { withFileTypes: true }))
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const tmpDirs: string[] = [];
async function tmpDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chat-db-test-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tmpDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Every model answers a query, i.e. the migrations built every table the client expects. */
async function expectEveryModelQueryable(db: Database): Promise<void> {
  const models = Object.values(Prisma.ModelName);
  expect(models.length).toBeGreaterThan(0);
  for (const model of models) {
    const delegate = (db.prisma as unknown as Record<string, { count(): Promise<number> }>)[
      model.charAt(0).toLowerCase() + model.slice(1)
    ];
    await expect(delegate.count(), model).resolves.toBeTypeOf('number');
  }
}

/** A migrations directory holding the project's migrations plus one of the test's own. */
async function migrationsWith(name: string, sql: string): Promise<string> {
  const dir = path.join(await tmpDir(), 'migrations');
  await cp(defaultMigrationsDir, dir, { recursive: true });
  await mkdir(path.join(dir, name));
  await writeFile(path.join(dir, name, 'migration.sql'), sql);
  return dir;
}

// A script the adapters used to mishandle: `;` inside a literal and a `$$` body, then a failure.
const failingMigration =
  "CREATE TABLE probe (id int, note text);\n" +
  "INSERT INTO probe VALUES (1, 'a;b');\n" +
  'CREATE FUNCTION probe_one() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n' +
  'SELECT no_such_column FROM probe;\n';

/**
 * db.rows (src/db/raw.ts) answers what $queryRaw answers, value for value, on the same
 * connections and counted the same; a unique violation is recognised; numeric is refused.
 */
async function expectRowsAsQueryRaw(db: Database): Promise<void> {
  const at = new Date('2026-12-07T11:48:09.903Z');
  const statement = Prisma.sql`
    SELECT ${at}::timestamptz AS t, ${at}::timestamptz(3)::date AS d, '{"a":[1,{"b":2}]}'::jsonb AS j, '[]'::jsonb AS e,
           5::int AS i, 7::bigint AS b, ARRAY[1, 2]::bigint[] AS bs, true AS bo, 'x'::text AS s,
           '6f9619ff-8b86-4d01-b42d-00cf4fc964ff'::uuid AS u, ${['a', null]}::text[] AS arr, ${[1, 2]}::int[] AS ints,
           ${[at]}::timestamptz[] AS ts, null::timestamptz AS n, ${2.5}::float8 AS f, ${'quote\'s'}::text AS q`;
  const expected = await db.prisma.$queryRaw<unknown[]>(statement);
  const before = db.stats.statements;
  const rows = await db.rows<Record<string, unknown>>(statement);
  expect(db.stats.statements).toBe(before + 1);
  expect(rows).toEqual(expected);
  expect(rows[0]).toMatchObject({ t: at, b: 7n, j: { a: [1, { b: 2 }] }, arr: ['a', null], q: "quote's" });

  await db.rows(Prisma.sql`CREATE TABLE raw_unique (k text PRIMARY KEY)`);
  await db.rows(Prisma.sql`INSERT INTO raw_unique VALUES (${'one'})`);
  const duplicate = await db.rows(Prisma.sql`INSERT INTO raw_unique VALUES (${'one'})`).catch((err: unknown) => err);
  expect(isUniqueViolation(duplicate)).toBe(true);
  await expect(db.rows(Prisma.sql`SELECT 1.5::numeric AS n`)).rejects.toThrow(/numeric or bytes/);
}

describe('embedded database (PGlite)', () => {
  it('applies every migration to a fresh in-memory database, then nothing the second time', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      expect(db.kind).toBe('pglite');
      await db.ping();
      expect(migrationNames.length).toBeGreaterThan(0);
      expect(await db.migrate()).toEqual(migrationNames);
      await expectEveryModelQueryable(db);
      const recorded = await db.prisma.$queryRaw<{ migration_name: string; finished: boolean }[]>`
        SELECT migration_name, finished_at IS NOT NULL AS finished
        FROM _prisma_migrations ORDER BY migration_name`;
      expect(recorded).toEqual(migrationNames.map((name) => ({ migration_name: name, finished: true })));

      expect(await db.migrate()).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('tells a current database from the records alone, and leaves a new or edited migration to the engine', async () => {
    const migrationsDir = path.join(await tmpDir(), 'migrations');
    await cp(defaultMigrationsDir, migrationsDir, { recursive: true });
    const pglite = new PGlite();
    try {
      const factory = new PrismaPGlite(pglite);
      expect(await isCurrent(factory, { migrationsDir })).toBe(false); // no table yet
      expect(await applyMigrations(factory, { migrationsDir })).toEqual(migrationNames);
      expect(await isCurrent(factory, { migrationsDir })).toBe(true);

      await mkdir(path.join(migrationsDir, '99990101000000_new'));
      await writeFile(path.join(migrationsDir, '99990101000000_new', 'migration.sql'), 'CREATE TABLE probe_new (id int);\n');
      expect(await isCurrent(factory, { migrationsDir })).toBe(false);
      expect(await applyMigrations(factory, { migrationsDir })).toEqual(['99990101000000_new']);
      expect(await isCurrent(factory, { migrationsDir })).toBe(true);

      // An applied migration edited afterwards: the shortcut does not vouch for it; the engine
      // decides (as `prisma migrate deploy` does, it applies nothing and does not fail).
      const first = path.join(migrationsDir, migrationNames[0], 'migration.sql');
      await writeFile(first, `${await readFile(first, 'utf8')}\n-- edited\n`);
      expect(await isCurrent(factory, { migrationsDir })).toBe(false);
      expect(await applyMigrations(factory, { migrationsDir })).toEqual([]);
    } finally {
      await pglite.close();
    }
  });

  it('applies once when two runs start together on the same database', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      const runs = await Promise.all([db.migrate(), db.migrate()]);
      expect(runs.flat()).toEqual(migrationNames);
    } finally {
      await db.close();
    }
  });

  it('applies to two databases at once, each run on its own (the queue is per database)', async () => {
    const dbs = await Promise.all([openDatabase({ dataDir: 'memory://' }), openDatabase({ dataDir: 'memory://' })]);
    try {
      // Both at once, each twice: every database gets every migration exactly once.
      const runs = await Promise.all(dbs.flatMap((db) => [db.migrate(), db.migrate()]));
      expect([...runs[0]!, ...runs[1]!]).toEqual(migrationNames);
      expect([...runs[2]!, ...runs[3]!]).toEqual(migrationNames);
      for (const db of dbs) await expectEveryModelQueryable(db);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('keeps rows in its data directory across close and reopen', async () => {
    const dataDir = path.join(await tmpDir(), 'pglite');
    const first = await openDatabase({ dataDir });
    await first.migrate();
    const { id } = await first.prisma.workspace.create({ data: { name: 'kept' } });
    await first.close();

    const second = await openDatabase({ dataDir });
    try {
      expect(await second.migrate()).toEqual([]);
      expect(await second.prisma.workspace.findUnique({ where: { id } })).toMatchObject({ name: 'kept' });
    } finally {
      await second.close();
    }
  });

  it("runs the app's own SQL without Prisma's client, with the values $queryRaw gives (db.rows)", async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      await expectRowsAsQueryRaw(db);
    } finally {
      await db.close();
    }
  });

  it('queues concurrent interactive transactions instead of failing them', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    try {
      await db.migrate();
      // 25 × 100 ms queue for 2.5 s, past Prisma's default 2 s wait to start a transaction.
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, (_, i) =>
          db.prisma.$transaction(async (tx) => {
            const before = await tx.workspace.count();
            await new Promise((resolve) => setTimeout(resolve, 100));
            await tx.workspace.create({ data: { name: `w${i}` } });
            return before;
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      // One at a time: each saw every earlier one's row.
      const seen = results.map((r) => (r as PromiseFulfilledResult<number>).value).sort((a, b) => a - b);
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));

      await expect(
        db.prisma.$transaction(async (tx) => {
          await tx.workspace.create({ data: { name: 'rolled back' } });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await db.prisma.workspace.count({ where: { name: 'rolled back' } })).toBe(0);
      expect(await db.prisma.workspace.count()).toBe(25);
    } finally {
      await db.close();
    }
  });

  it('rolls back a failing migration, records it as failed and stops there', async () => {
    const migrationsDir = await migrationsWith('99990101000000_failing', failingMigration);
    const pglite = new PGlite();
    try {
      const factory = new PrismaPGlite(pglite);
      await expect(applyMigrations(factory, { migrationsDir })).rejects.toThrow(/no_such_column/);
      const { rows } = await pglite.query<{ migration_name: string; finished_at: Date | null }>(
        `SELECT migration_name, finished_at FROM _prisma_migrations WHERE migration_name = '99990101000000_failing'`,
      );
      expect(rows).toEqual([{ migration_name: '99990101000000_failing', finished_at: null }]);
      const probe = await pglite.query<{ t: string | null }>(`SELECT to_regclass('probe')::text AS t`);
      expect(probe.rows[0].t).toBeNull();
      await expect(applyMigrations(factory, { migrationsDir })).rejects.toThrow(/failed migrations/);
    } finally {
      await pglite.close();
    }
  });
});

describe('data migrations', () => {
  it('gives accounts the legacy shim made their legacy username, and existing messages their stream positions', async () => {
    const usernames = migrationNames.find((name) => name.endsWith('_usernames_reactions_pins_notifications'))!;
    const before = path.join(await tmpDir(), 'migrations');
    await cp(defaultMigrationsDir, before, { recursive: true });
    await rm(path.join(before, usernames), { recursive: true });
    const pglite = new PGlite();
    try {
      const factory = new PrismaPGlite(pglite);
      await applyMigrations(factory, { migrationsDir: before });
      // As the shim made them before usernames: the username in a stand-in email.
      await pglite.exec(`
        INSERT INTO "User" (id, email, "displayName", "updatedAt") VALUES
          ('00000000-0000-4000-8000-000000000001', 'ada_l@users.legacy.invalid', 'Ada_L', now()),
          ('00000000-0000-4000-8000-000000000002', 'ab@users.legacy.invalid', 'ab', now()),
          ('00000000-0000-4000-8000-000000000003', 'admin@users.legacy.invalid', 'admin', now()),
          ('00000000-0000-4000-8000-000000000004', 'real@example.com', 'Real', now());
        INSERT INTO "Workspace" (id, name) VALUES ('00000000-0000-4000-8000-0000000000aa', 'W');
        INSERT INTO "Conversation" (id, "workspaceId", kind, "lastSeq", "updatedAt") VALUES
          ('00000000-0000-4000-8000-0000000000bb', '00000000-0000-4000-8000-0000000000aa', 'ROOM', 2, now());
        INSERT INTO "Message" (id, "conversationId", seq, body) VALUES
          ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000bb', 1, 'one'),
          ('00000000-0000-4000-8000-0000000000c2', '00000000-0000-4000-8000-0000000000bb', 2, 'two');`);
      await applyMigrations(factory, { migrationsDir: defaultMigrationsDir });
      const users = await pglite.query<{ email: string | null; username: string | null; key: string | null }>(
        `SELECT email, username, "usernameKey" AS key FROM "User" ORDER BY id`,
      );
      expect(users.rows).toEqual([
        { email: null, username: 'ada_l', key: 'ada_l' },
        // Outside the username rules (too short, reserved): they keep the stand-in email, which the shim still maps to.
        { email: 'ab@users.legacy.invalid', username: null, key: null },
        { email: 'admin@users.legacy.invalid', username: null, key: null },
        { email: 'real@example.com', username: null, key: null },
      ]);
      const claims = await pglite.query<{ key: string; held: boolean }>(`SELECT key, "heldUntil" IS NOT NULL AS held FROM "UsernameClaim"`);
      expect(claims.rows).toEqual([{ key: 'ada_l', held: false }]);
      const positions = await pglite.query<{ seq: number; position: number }>(`SELECT seq, position FROM "Message" ORDER BY seq`);
      expect(positions.rows).toEqual([
        { seq: 1, position: 1 },
        { seq: 2, position: 2 },
      ]);
      const head = await pglite.query<{ lastPosition: number }>(`SELECT "lastPosition" FROM "Conversation"`);
      expect(head.rows).toEqual([{ lastPosition: 2 }]);
    } finally {
      await pglite.close();
    }
  });
});

describe('writing migrations', () => {
  it('writes nothing when the schema matches the migrations', async () => {
    // On a copy, so that a schema changed without its migration fails here without writing one.
    const migrationsDir = path.join(await tmpDir(), 'migrations');
    await cp(defaultMigrationsDir, migrationsDir, { recursive: true });
    const before = await readdir(migrationsDir);
    expect(
      await writeMigration('nothing', { migrationsDir }),
      'prisma/schema.prisma differs from prisma/migrations: run `npm run db:migration -- <name>`',
    ).toBeNull();
    expect(await readdir(migrationsDir)).toEqual(before);
  });

  it('writes the SQL of a schema change, which then applies', async () => {
    const root = await tmpDir();
    const migrationsDir = path.join(root, 'migrations');
    await cp(defaultMigrationsDir, migrationsDir, { recursive: true });
    const schemaPath = path.join(root, 'schema.prisma');
    const schema = await readFile(defaultSchemaPath, 'utf8');
    await writeFile(schemaPath, `${schema}\nmodel ProbeThing {\n  id Int @id\n  label String\n}\n`);

    const file = await writeMigration('Add probe thing!', { schemaPath, migrationsDir });
    expect(file).toMatch(/[/\\]\d{14}_add_probe_thing[/\\]migration\.sql$/);
    expect(await readFile(file!, 'utf8')).toContain('CREATE TABLE "ProbeThing"');
    expect(await writeMigration('again', { schemaPath, migrationsDir })).toBeNull();

    const pglite = new PGlite();
    try {
      const applied = await applyMigrations(new PrismaPGlite(pglite), { migrationsDir });
      expect(applied).toEqual([...migrationNames, path.basename(path.dirname(file!))]);
      await pglite.query('SELECT id, label FROM "ProbeThing"');
    } finally {
      await pglite.close();
    }
  }, 90_000);

  it('starts a migrations directory with its lock file', async () => {
    const migrationsDir = path.join(await tmpDir(), 'migrations');
    const file = await writeMigration('init', { migrationsDir });
    expect(file).not.toBeNull();
    expect(await readFile(path.join(migrationsDir, 'migration_lock.toml'), 'utf8')).toContain(
      'provider = "postgresql"',
    );
    expect(await readFile(file!, 'utf8')).toContain('CREATE TABLE "Workspace"');
  });
});

/** A value as a SQL literal (the values of the app's statements: text, numbers, booleans, dates, arrays of them, null). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) {
    const items = value.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`));
    return pg.escapeLiteral(`{${items.join(',')}}`);
  }
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  return pg.escapeLiteral(String(value));
}

describe.skipIf(!process.env.DATABASE_URL)('PostgreSQL', () => {
  const baseUrl = process.env.DATABASE_URL ?? '';

  function urlFor(database: string): string {
    const url = new URL(baseUrl);
    url.pathname = `/${database}`;
    return url.toString();
  }

  /** Creates a database from the server's maintenance database; returns its URL and a dropper. */
  async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
    const name = `db_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: urlFor('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return {
      url: urlFor(name),
      async drop() {
        const c = new pg.Client({ connectionString: urlFor('postgres') });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await c.end();
        }
      },
    };
  }

  it("runs the app's own SQL without Prisma's client, with the values $queryRaw gives (db.rows)", async () => {
    const database = await freshDatabase();
    const db = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 1 });
    try {
      await expectRowsAsQueryRaw(db);
    } finally {
      await db.close();
      await database.drop();
    }
  });

  // PostgreSQL plans a prepared statement for each execution's values (a custom plan) unless its
  // generic plan is estimated no dearer than those; the append statement, a dozen relations, was
  // once planned on every send that way (append-statement.ts, opaque()).
  it('estimates the append statement no dearer generic than for given values, so a send is not planned each time', async () => {
    const database = await freshDatabase();
    try {
      await applyMigrations(new PrismaPg({ connectionString: database.url }));
      // One connection: the plan_cache_mode set below is the one the EXPLAINs run with.
      const db = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 1 });
      try {
        const conversationId = randomUUID();
        const { statement } = appendStatement(conversationId, [{ conversationId, authorId: randomUUID(), body: 'hello' }]);
        // PREPARE, as the adapter's statement cache does, so that plan_cache_mode decides the plan.
        await db.prisma.$executeRawUnsafe(`PREPARE append_plan AS ${statement.text}`);
        const cost = async (mode: 'force_custom_plan' | 'force_generic_plan') => {
          await db.prisma.$executeRawUnsafe(`SET plan_cache_mode = ${mode}`);
          // EXECUTE takes its arguments as SQL, not bound: each value written as a literal.
          const args = statement.values.map(literal).join(', ');
          const [row] = await db.prisma.$queryRawUnsafe<{ 'QUERY PLAN': [{ Plan: { 'Total Cost': number } }] }[]>(
            `EXPLAIN (FORMAT JSON) EXECUTE append_plan(${args})`,
          );
          return row!['QUERY PLAN'][0].Plan['Total Cost'];
        };
        const custom = await cost('force_custom_plan');
        const generic = await cost('force_generic_plan');
        expect(custom).toBeGreaterThan(0);
        // A custom plan is charged its planning too (about 2.5 per relation), so this margin still picks the generic one.
        expect(generic).toBeLessThanOrEqual(custom * 1.1);
      } finally {
        await db.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('applies once when two runs start together, then nothing', async () => {
    const database = await freshDatabase();
    try {
      // Two factories, as two server processes would have: only the database lock orders them.
      const runs = await Promise.all([
        applyMigrations(new PrismaPg({ connectionString: database.url })),
        applyMigrations(new PrismaPg({ connectionString: database.url })),
      ]);
      expect(runs.flat()).toEqual(migrationNames);
      expect(runs.some((names) => names.length === 0)).toBe(true);

      const db = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 2 });
      try {
        expect(db.kind).toBe('postgres');
        await db.ping();
        expect(await db.migrate()).toEqual([]);
        await expectEveryModelQueryable(db);
        const { id } = await db.prisma.workspace.create({ data: { name: 'pg' } });
        await db.prisma.$transaction(async (tx) => {
          await tx.workspace.update({ where: { id }, data: { name: 'pg2' } });
        });
        expect(await db.prisma.workspace.findUnique({ where: { id } })).toMatchObject({ name: 'pg2' });
      } finally {
        await db.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('keeps a statement run more than once prepared on its connection, at most DATABASE_STATEMENT_CACHE of them, none with 0', async () => {
    const database = await freshDatabase();
    try {
      await applyMigrations(new PrismaPg({ connectionString: database.url }));
      // One connection, so every statement below runs on the connection whose statements are read.
      const prepared = async (db: Database) =>
        (await db.prisma.$queryRaw<{ statement: string }[]>`SELECT statement FROM pg_prepared_statements`).map((row) => row.statement);
      const lookup = (db: Database, name: string) => db.prisma.workspace.findFirst({ where: { name } });
      const cached = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 1, statementCache: 2 });
      try {
        await lookup(cached, 'a');
        // Seen once: run unnamed, nothing kept on the server.
        expect((await prepared(cached)).some((text) => text.includes('"Workspace"'))).toBe(false);
        await lookup(cached, 'b');
        await lookup(cached, 'c');
        const kept = await prepared(cached);
        expect(kept.filter((text) => text.includes('"Workspace"'))).toHaveLength(1);
        // The cache is full (the lookup and the read of pg_prepared_statements): a third text runs unnamed.
        for (let i = 0; i < 3; i++) await cached.prisma.user.findFirst({ where: { email: `${i}@example.test` } });
        expect((await prepared(cached)).some((text) => text.includes('"User"'))).toBe(false);
        expect(await prepared(cached)).toHaveLength(2);
      } finally {
        await cached.close();
      }
      const uncached = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 1, statementCache: 0 });
      try {
        for (let i = 0; i < 3; i++) await lookup(uncached, String(i));
        expect(await prepared(uncached)).toEqual([]);
      } finally {
        await uncached.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('applies to a fresh database through openDatabase and leaves no connection behind', async () => {
    const database = await freshDatabase();
    const admin = new pg.Client({ connectionString: urlFor('postgres') });
    await admin.connect();
    const connections = async () =>
      (
        await admin.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
          [new URL(database.url).pathname.slice(1)],
        )
      ).rows[0].n;
    try {
      const db = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 1 });
      expect(await db.migrate()).toEqual(migrationNames);
      await db.ping();
      await db.close();
      await expect.poll(connections).toBe(0);
    } finally {
      await admin.end();
      await database.drop();
    }
  });

  it('rolls back a failing migration whole and records it as failed', async () => {
    const database = await freshDatabase();
    const migrationsDir = await migrationsWith('99990101000000_failing', failingMigration);
    const db = await openDatabase({ databaseUrl: database.url, dataDir: 'unused', poolSize: 2, migrationsDir });
    try {
      await expect(db.migrate()).rejects.toThrow(/no_such_column/);
      const rows = await db.prisma.$queryRaw<{ finished: boolean; probe: string | null }[]>`
        SELECT finished_at IS NOT NULL AS finished, to_regclass('probe')::text AS probe
        FROM _prisma_migrations WHERE migration_name = '99990101000000_failing'`;
      expect(rows).toEqual([{ finished: false, probe: null }]);
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
