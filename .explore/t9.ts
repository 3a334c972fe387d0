import { openDatabase } from '../src/db/client.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const db = await openDatabase({ dataDir: 'memory://', databaseUrl: process.argv[2] });
console.log(db.kind, await db.migrate());
const { prisma } = db;
await db.ping();
// 1. simple
const w = await prisma.$transaction(async (tx) => { const w = await tx.workspace.create({ data: { name: 'a' } }); await tx.workspace.update({ where: { id: w.id }, data: { name: 'b' } }); return w; });
console.log('simple ok', (await prisma.workspace.findUnique({ where: { id: w.id } }))?.name);
// 2. rollback
await prisma.$transaction(async (tx) => { await tx.workspace.create({ data: { name: 'rolled' } }); throw new Error('boom'); }).catch((e) => console.log('rollback threw', e.message));
console.log('rolled rows', await prisma.workspace.count({ where: { name: 'rolled' } }));
// 3. concurrency
for (const [n, ms] of [[20, 0], [30, 100]] as const) {
  const t = Date.now();
  const r = await Promise.allSettled(Array.from({ length: n }, (_, i) => prisma.$transaction(async (tx) => {
    const c = await tx.workspace.count();
    await sleep(ms);
    await tx.workspace.create({ data: { name: `c${i}` } });
    return c;
  })));
  const bad = r.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
  console.log(`n=${n} sleep=${ms}: ok=${r.length - bad.length} failed=${bad.length} in ${Date.now() - t}ms`, bad[0] ? String(bad[0].reason).slice(0, 200) : '');
}
// 4. mixing with non-tx queries
const t0 = Date.now();
const [a, b] = await Promise.all([prisma.$transaction(async (tx) => { await sleep(300); return tx.workspace.count(); }), (async () => { await sleep(50); return prisma.workspace.count(); })()]);
console.log('non-tx query during tx waited', Date.now() - t0, 'ms', a, b);
// 5. root client inside tx
if (process.argv[3] === 'deadlock') {
  const t1 = Date.now();
  await prisma.$transaction(async (tx) => { await tx.workspace.count(); return prisma.workspace.count(); }, { timeout: 3000 }).then((v) => console.log('root in tx ok', v), (e) => console.log('root in tx failed after', Date.now() - t1, 'ms', String(e).slice(0, 200)));
}
await db.close();
await db.close();
console.log('closed');
