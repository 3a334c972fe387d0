import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { applyMigrations } from '../src/db/migrations.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pg = new PGlite();
const f = new PrismaPGlite(pg);
await applyMigrations(f);
const prisma = new PrismaClient({ adapter: f });
const t = Date.now();
const r = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => prisma.$transaction(async (tx) => {
  await tx.workspace.count(); await sleep(100); await tx.workspace.create({ data: { name: `c${i}` } });
})));
const bad = r.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
console.log(`default options: ok=${r.length - bad.length} failed=${bad.length} in ${Date.now() - t}ms`, bad[0] ? String(bad[0].reason).slice(0, 300) : '');
console.log('rows', await prisma.workspace.count());
await prisma.$disconnect(); await pg.close();
