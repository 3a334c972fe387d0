/**
 * `npm run db:migration -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql with
 * the SQL from the existing migrations to prisma/schema.prisma. Touches no live database: the
 * migrations are replayed on in-memory PGlite databases.
 */
import path from 'node:path';
import { writeMigration } from '../src/db/write-migration.js';

const name = process.argv.slice(2).join(' ').trim();
if (!name) {
  console.error('usage: npm run db:migration -- <name>');
  process.exit(2);
}
try {
  const file = await writeMigration(name);
  console.log(file ? path.relative(process.cwd(), file) : 'no changes');
} catch (error) {
  console.error(describe(error));
  process.exitCode = 1;
}

/** Driver adapter errors carry the useful part (which database, which code) in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message} ${JSON.stringify(error.cause)}`;
}
