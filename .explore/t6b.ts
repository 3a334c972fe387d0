import { applyMigrations } from '../src/db/.nolock-tmp.js';
import { PrismaPg } from '@prisma/adapter-pg';
const db = process.argv[2];
const f = new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:5432/${db}`, max: 10 });
const t = Date.now();
console.log(process.pid, await applyMigrations(f, { migrationsDir: '/tmp/m5' }), Date.now() - t, 'ms');
