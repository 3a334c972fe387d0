import { load } from './engine.mjs';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
const bg = await load();
process.on('unhandledRejection', (e) => console.log('UNHANDLED', e.message));
const path = '/x/schema.prisma';
const text = 'datasource db {\n provider = "postgresql"\n}\n';
const filters = { externalTables: [], externalEnums: [] };
const sql = 'CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nSELECT nope FROM a;\n';
const list = { baseDir: '/tmp/none', lockfile: { path: 'migration_lock.toml', content: 'provider = "postgresql"\n' }, shadowDbInitScript: '',
  migrationDirectories: [{ path: '20240101000000_bad', migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: sql } } }] };
const pg = new PGlite();
const f = process.argv[2] === 'pg' ? new PrismaPg({ connectionString: 'postgresql://postgres@127.0.0.1:5432/' + process.argv[3] }) : new PrismaPGlite(pg);
const e = await bg.SchemaEngine.new({ datamodels: [[path, text]] }, () => {}, bindMigrationAwareSqlAdapterFactory(f));
try { console.log(await e.applyMigrations({ migrationsList: list, filters })); } catch (err) { console.log('ERR', err.message.slice(0, 300)); }
await new Promise(r => setTimeout(r, 200));
const a = await f.connect();
console.log((await a.queryRaw({ sql: 'select migration_name, finished_at, logs from _prisma_migrations', args: [], argTypes: [] })).rows);
console.log((await a.queryRaw({ sql: "select to_regclass('a')::text", args: [], argTypes: [] })).rows);
process.exit(0);
