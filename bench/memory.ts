/**
 * `npm run bench:memory`: what a compiled server holds, idle and per idle subscription.
 *
 * Starts the product as `npm start` does (scripts/start.mjs: compiled dist/, with package.json's
 * node flags) on PostgreSQL + Redis (a `bench_mem_*` database created and dropped), and reads its
 * RSS from /proc: idle after the first start (which migrates the new database), then idle after a
 * restart, before any client, with where it goes (the V8 heap, what is outside it), then with
 * --subscriptions graphql-ws subscribers (one socket each, opened by a
 * separate process) live on one conversation, after a pause to settle. RSS per subscription is
 * the difference over the count. --embedded measures the
 * embedded setup instead (PGlite in the same process). Linux only (reads /proc).
 *
 *   npm run bench:memory -- [--subscriptions 2000] [--embedded] [--heap-snapshots]
 * --heap-snapshots also writes the restarted server's V8 heap before and with the subscriptions
 * (bench/results/heap-{before,with}-<time>.heapsnapshot, for Chrome DevTools' Comparison view);
 * writing a snapshot grows the process, so that run's RSS figures mean nothing.
 * Then the same number of idle sockets on the floor (bench/floor.ts, plain `ws`) and the peer
 * (bench/peer.ts, Socket.IO), measured the same way: what an idle socket costs elsewhere.
 * Environment: BENCH_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_LIMITS, buildServer, forkScript, log, scratchDatabase, SEND, sleep, startFlags, waitFor, type ReceiverReport } from './lib.js';

const { values: flags } = parseArgs({
  options: { subscriptions: { type: 'string' }, embedded: { type: 'boolean' }, 'heap-snapshots': { type: 'boolean' } },
});
const count = Number(flags.subscriptions ?? 2000);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = fileURLToPath(new URL('..', import.meta.url));

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

buildServer();

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chat-bench-mem-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: '0',
  DATA_DIR: dataDir,
  JWT_SECRET: randomBytes(48).toString('base64url'),
  LOG_LEVEL: 'warn',
  GRAPHIQL: 'false',
  // 2,000 sockets from one address: the load, not an attack.
  ...BENCH_LIMITS,
  DATABASE_URL: '',
  REDIS_URL: '',
};
const scratch = flags.embedded ? null : await scratchDatabase('bench_mem', databaseUrl);
if (scratch) {
  env.DATABASE_URL = scratch.url;
  env.REDIS_URL = redisUrl;
}

const children: ChildProcess[] = [];

/** With --heap-snapshots: has the server write its heap (Node names the file) and renames it to `heap-<label>-…`. */
async function snapshot(server: ChildProcess, label: string): Promise<void> {
  if (!flags['heap-snapshots']) return;
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  server.kill('SIGUSR2');
  for (;;) {
    await sleep(1000);
    const written = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    // Node writes the file in place: done once its size stops changing.
    if (written) {
      const file = path.join(dir, written);
      let size = -1;
      while (size !== statSync(file).size) {
        size = statSync(file).size;
        await sleep(1000);
      }
      const named = path.join(dir, `heap-${label}-${Date.now()}.heapsnapshot`);
      renameSync(file, named);
      log(`heap snapshot: ${path.relative(root, named)}`);
      return;
    }
  }
}
try {
  // The real `npm start`: its entry (scripts/start.mjs, dist/) with the node flags package.json's
  // "start" script gives it (--enable-source-maps: ~13 MiB of parsed source maps), not the
  // bench's tsx-loaded server.ts (tsx's loader alone holds ~100 MB).
  const nodeFlags = startFlags();
  const snapshotDir = path.join(root, 'bench', 'results');
  if (flags['heap-snapshots']) mkdirSync(snapshotDir, { recursive: true });
  const start = async () => {
    const extra = flags['heap-snapshots'] ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [];
    const child = spawn(process.execPath, [...nodeFlags, ...extra, path.join(root, 'scripts', 'start.mjs')], {
      env: { ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const url = await new Promise<{ url: string; database: string; pubsub: string }>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const entry = JSON.parse(line) as { url?: string; database?: string; pubsub?: string };
        if (entry.url && entry.database) resolve(entry as { url: string; database: string; pubsub: string });
      });
      child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
    });
    return { child, ...url };
  };
  const stop = async (child: ChildProcess) => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  };
  const settledRss = async (pid: number) => {
    // No forced GC (a user's server has none): the smallest of a few readings a second apart.
    let least = Infinity;
    for (let i = 0; i < 5; i++) {
      await sleep(1000);
      least = Math.min(least, rssOf(pid));
    }
    return least;
  };
  /**
   * RSS once idle long enough for V8 to have collected: after a burst (2,000 subscriptions set
   * up), what it left behind is garbage in V8's old space until a full collection, which an idle
   * server gets from V8's memory reducer some 10 to 30 s after allocation slows down (no forced
   * GC here either). Waits 45 s and, for a server with /metrics, until at least one full (major)
   * collection has run since `since` (at most 120 s); then the least of five readings.
   */
  const idleRss = async (pid: number, metricsUrl?: string, since?: number) => {
    const started = Date.now();
    await sleep(45_000);
    while (metricsUrl && since !== undefined && (await majorGcs(metricsUrl)) <= since && Date.now() - started < 120_000) await sleep(5000);
    return { rss: await settledRss(pid), seconds: Math.round((Date.now() - started) / 1000) };
  };
  /** How many full collections the server has run (prom-client's GC histogram on /metrics). */
  const majorGcs = async (metricsUrl: string) => {
    const text = await (await fetch(metricsUrl)).text();
    return Number(/^chat_nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  // A first start on a new database applies the migrations, which loads Prisma's schema engine
  // (WebAssembly) and keeps it; a restart finds them current and never loads it (src/db). Both
  // are measured idle; the subscriptions are measured on the restarted server.
  const first = await start();
  await sleep(5000); // background work's first rounds (sweepers, presence) have run
  const idleFirst = await settledRss(first.child.pid!);
  log(`idle after a first start (migrating): ${mb(idleFirst)} MiB RSS`);
  await stop(first.child);
  const ready = await start();
  const server = ready.child;
  /** The V8 heap and memory outside it (buffers, WebAssembly memories), from the server's own /metrics. */
  const heap = async () => {
    const text = await (await fetch(`${ready.url}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN);
    const space = (name: string) => read(`chat_nodejs_heap_space_size_total_bytes\\{space="${name}"\\}`);
    return {
      used: read('chat_nodejs_heap_size_used_bytes'),
      total: read('chat_nodejs_heap_size_total_bytes'),
      newSpace: space('new'),
      oldSpace: space('old'),
      external: read('chat_nodejs_external_memory_bytes'),
    };
  };
  await sleep(5000);
  const idle = await settledRss(server.pid!);
  const heapIdle = await heap();
  log(`idle after a restart: ${mb(idle)} MiB RSS on ${ready.database} with ${ready.pubsub} pub/sub`);

  const gql = async <T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> => {
    const res = await fetch(`${ready.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return ((await res.json()) as { data: T }).data;
  };
  const signUp = await gql<{ signUp: { accessToken: string } }>(
    `mutation($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken } } }`,
    { input: { email: `mem-${Date.now()}@example.com`, password: 'bench-password-1', displayName: 'Mem' } },
  );
  const token = signUp.signUp.accessToken;
  const ws = await gql<{ createWorkspace: { id: string } }>(`mutation { createWorkspace(input: { name: "Mem" }) { ... on Workspace { id } } }`, {}, token);
  const room = await gql<{ createRoom: { id: string } }>(
    `mutation($input: CreateRoomInput!) { createRoom(input: $input) { ... on Room { id } } }`,
    { input: { workspaceId: ws.createWorkspace.id, name: 'Mem room' } },
    token,
  );
  await gql(SEND, { input: { conversationId: room.createRoom.id, body: 'hello' } }, token);
  const { rss: withOne } = await idleRss(server.pid!, `${ready.url}/metrics`, await majorGcs(`${ready.url}/metrics`));
  const heapWithOne = await heap();
  await snapshot(server, 'before');

  const receiver = forkScript('receiver.ts', ['graphql', `${ready.url.replace(/^http/, 'ws')}/graphql`, String(count), token, room.createRoom.id]);
  children.push(receiver);
  receiver.on('message', (m: ReceiverReport) => {
    if (m.type === 'progress' && m.connected % 500 === 0) log(`${m.connected}/${count} subscriptions live`);
  });
  await waitFor<ReceiverReport>(receiver, (m) => m.type === 'ready', 300_000, 'subscriptions to be live');
  await sleep(3000);
  const soon = await settledRss(server.pid!);
  const { rss: loaded, seconds: settledAfter } = await idleRss(server.pid!, `${ready.url}/metrics`, await majorGcs(`${ready.url}/metrics`));
  const heapLoaded = await heap();
  await snapshot(server, 'with');
  const perSoon = (soon - withOne) / count;
  const perSubscription = (loaded - withOne) / count;
  const heapPer = (heapLoaded.used - heapWithOne.used) / count;
  const externalPer = (heapLoaded.external - heapWithOne.external) / count;

  const cpus = os.cpus();
  process.stdout.write(
    [
      `## Memory benchmark (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
      '',
      `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}; Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`,
      `- The compiled server (\`npm start\`: node ${[...nodeFlags, 'scripts/start.mjs'].join(' ')}) on ${ready.database} with ${ready.pubsub} pub/sub; RSS from /proc, the least of five readings a second apart`,
      '',
      '| Reading | RSS MiB | Target |',
      '| --- | ---: | --- |',
      `| idle after a first start (it migrated a new database) | ${mb(idleFirst)} | |`,
      `| idle after a restart, before any client | ${mb(idle)} | ≤ 200 MB${flags.embedded ? ' (PostgreSQL setup)' : idle <= 200e6 ? ' ✓' : ' ✗'} |`,
      `| of which V8 heap: committed (new space / old space) / in use | ${mb(heapIdle.total)} (${mb(heapIdle.newSpace)} / ${mb(heapIdle.oldSpace)}) / ${mb(heapIdle.used)} | |`,
      `| of which outside the heap (buffers, WebAssembly memories) | ${mb(heapIdle.external)} | |`,
      `| after seeding, idle (45 s and a full collection): the baseline of what follows | ${mb(withOne)} | |`,
      `| with ${count.toLocaleString('en-US')} idle subscriptions (one socket each), 3 to 8 s after the last was live | ${mb(soon)} | |`,
      `| per idle subscription then, with the garbage of setting them up not yet collected | ${(perSoon / 1024).toFixed(1)} KiB | |`,
      `| with the subscriptions, idle (a full collection ran; ${settledAfter} s later) | ${mb(loaded)} | |`,
      `| per idle subscription, settled | ${(perSubscription / 1024).toFixed(1)} KiB | ≤ 15 KB${perSubscription <= 15_000 ? ' ✓' : ' ✗'} |`,
      `| of which V8 heap in use / external (buffers) | ${(heapPer / 1024).toFixed(1)} / ${(externalPer / 1024).toFixed(1)} KiB | |`,
      '',
    ].join('\n'),
  );
  receiver.send({ type: 'stop' });
  await new Promise((r) => receiver.once('exit', r));
  await stop(server);

  // The same idle sockets on the floor (plain `ws`) and the peer (Socket.IO + pg), measured the
  // same way in this run: what one idle socket costs a server that does nothing with it.
  const others: string[] = [];
  for (const target of ['floor', 'peer'] as const) {
    const other = forkScript(`${target}.ts`, [], { ...process.env, PEER_DATABASE_URL: scratch?.url ?? databaseUrl }, nodeFlags);
    children.push(other);
    const { url } = await waitFor<{ type: string; url: string }>(other, (m) => m.type === 'ready', 60_000, `the ${target} server`);
    const { rss: before } = await idleRss(other.pid!);
    const sockets = forkScript('receiver.ts', [target, url.replace(/^http/, 'ws'), String(count), '', 'mem-room']);
    children.push(sockets);
    await waitFor<ReceiverReport>(sockets, (m) => m.type === 'ready', 300_000, `${target} sockets to be open`);
    await sleep(3000);
    const { rss: after } = await idleRss(other.pid!);
    log(`${target}: ${mb(before)} → ${mb(after)} MiB RSS with ${count} idle sockets`);
    others.push(`| ${target === 'floor' ? 'floor (plain `ws`, nothing stored)' : 'peer (Socket.IO + pg, joined to a room)'} | ${mb(before)} → ${mb(after)} | ${((after - before) / count / 1024).toFixed(1)} KiB |`);
    sockets.send({ type: 'stop' });
    await new Promise((r) => sockets.once('exit', r));
    other.kill('SIGTERM');
    if (other.exitCode === null) await new Promise((r) => other.once('exit', r));
  }
  process.stdout.write(
    [
      `Per idle socket in the same run (${count.toLocaleString('en-US')} sockets; run with tsx and the same node flags; RSS after 45 s idle, before and with the sockets):`,
      '',
      '| Server | RSS MiB, idle → with the sockets | per socket |',
      '| --- | ---: | ---: |',
      `| this product (one subscription per socket), settled | ${mb(withOne)} → ${mb(loaded)} | ${(perSubscription / 1024).toFixed(1)} KiB |`,
      ...others,
      '',
    ].join('\n'),
  );
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  await scratch?.drop();
}
