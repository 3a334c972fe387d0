import { load, logging } from './engine.mjs';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import { readFile, mkdir, writeFile, rm } from 'node:fs/promises';
const bg = await load();
const path = '/work/main/prisma/schema.prisma';
const text = await readFile(path, 'utf8');
const filters = { externalTables: [], externalEnums: [] };
const dir = '/tmp/explore-migs';
await rm(dir, { recursive: true, force: true });
await mkdir(dir + '/20240101000000_init', { recursive: true });
{
  const e = await bg.SchemaEngine.new({ datamodels: [[path, text]] }, () => {}, bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(new PGlite())));
  const r = await e.diff({ from: { tag: 'empty' }, to: { tag: 'schemaDatamodel', files: [{ path, content: text }] }, script: true, exitCode: null, filters });
  await writeFile(dir + '/20240101000000_init/migration.sql', r.stdout);
  await writeFile(dir + '/migration_lock.toml', 'provider = "postgresql"\n');
}
const list = { baseDir: dir, lockfile: { path: 'migration_lock.toml', content: 'provider = "postgresql"\n' }, shadowDbInitScript: '',
  migrationDirectories: [{ path: '20240101000000_init', migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: await readFile(dir + '/20240101000000_init/migration.sql', 'utf8') } } }] };
const which = process.argv[2];
let f;
if (which === 'pg') f = new PrismaPg({ connectionString: 'postgresql://postgres@127.0.0.1:5432/' + process.argv[3], max: 10 });
else f = new PrismaPGlite(new PGlite());
const e = await bg.SchemaEngine.new({ datamodels: [[path, text]] }, (m) => console.log('LOG', m), bindMigrationAwareSqlAdapterFactory(logging(f, which)));
console.log(await e.applyMigrations({ migrationsList: list, filters }));
console.log(await e.applyMigrations({ migrationsList: list, filters }));
