const mod = await import(process.argv[3] ?? '../src/db/migrations.js');
import { PrismaPg } from '@prisma/adapter-pg';
const db = process.argv[2];
const mk = () => new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:5432/${db}`, max: 10 });
const r = await Promise.allSettled([1, 2, 3, 4].map(() => mod.applyMigrations(mk(), { migrationsDir: '/tmp/m5' })));
console.log(r.map((x: any) => x.status === 'fulfilled' ? x.value : String(x.reason).slice(0, 200)));
