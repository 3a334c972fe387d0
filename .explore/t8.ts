import { applyMigrations } from '../src/db/migrations.js';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PGlite } from '@electric-sql/pglite';
process.on('unhandledRejection', (e: any) => console.log('UNHANDLED', e?.message));
const pgl = new PGlite();
const f = process.argv[2] ? new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:5432/${process.argv[2]}` }) : new PrismaPGlite(pgl);
for (let i = 0; i < 2; i++) {
  try { console.log(await applyMigrations(f, { migrationsDir: '/tmp/mbad' })); } catch (e: any) { console.log('ERR', e.message.split('\n').slice(0, 3).join(' | ')); }
}
const a = await f.connect();
console.log((await a.queryRaw({ sql: "select migration_name, finished_at, logs is not null, (select to_regclass('a')::text) from _prisma_migrations", args: [], argTypes: [] })).rows);
await a.dispose();
