/**
 * Where a test's server keeps its data. On the embedded run (no DATABASE_URL) each app gets a
 * PGlite directory of its own in a temporary folder. When DATABASE_URL is set (the CI's second
 * run), each test file gets a freshly created PostgreSQL database on that server, dropped at the
 * end; a server that cannot be reached fails the run, it never skips.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  /** The PostgreSQL URL for the app, or undefined on the embedded run. */
  databaseUrl?: string;
  /** A data directory for the app (PGlite lives in it on the embedded run). */
  dataDir: string;
  drop(): Promise<void>;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);
export const usingRedis = Boolean(process.env.REDIS_URL);

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chat-test-'));
  const base = process.env.DATABASE_URL;
  if (!base) {
    return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`DATABASE_URL is set but PostgreSQL cannot be reached (${(err as Error).message}); start it (see README).`, { cause: err });
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
