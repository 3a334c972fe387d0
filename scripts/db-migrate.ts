/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL when set, else to the embedded
 * PGlite database in DATA_DIR/pglite (DATA_DIR defaults to ./data), where src/app.ts keeps it.
 *
 * Reads process.env itself so that it runs without the server's full configuration.
 */
import path from 'node:path';
import { openDatabase } from '../src/db/client.js';

const db = await openDatabase({
  databaseUrl: process.env.DATABASE_URL || undefined,
  dataDir: path.join(process.env.DATA_DIR || './data', 'pglite'),
  poolSize: 2,
});
try {
  const applied = await db.migrate();
  const target = db.kind === 'postgres' ? 'PostgreSQL' : 'the embedded database';
  if (applied.length === 0) console.log(`No pending migrations for ${target}.`);
  else console.log(`Applied to ${target}:\n${applied.map((name) => `  ${name}`).join('\n')}`);
} catch (error) {
  console.error(describe(error));
  process.exitCode = 1;
} finally {
  await db.close();
}

/** Driver adapter errors carry the useful part (which database, which code) in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} ${JSON.stringify(error.cause)}`;
}
