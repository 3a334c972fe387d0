/**
 * `npm run bench`: end-to-end delivery figures on this machine.
 *
 * For each setup (the floor: a plain `ws` broadcast server; the chat server on PGlite; the chat
 * server on PostgreSQL + Redis) and each subscriber count, in separate processes (the server, one
 * receiver process holding every subscriber's WebSocket, one sender process):
 *   1. latency: messages sent at a steady rate for --seconds: --rate a second, or fewer so that
 *      the deliveries stay under --delivery-rate a second (a busy room, not a saturated
 *      server: saturation is what the throughput phase measures); p50/p99 of the time from a
 *      send to each subscriber's receipt, and how many deliveries were lost or out of order;
 *   2. throughput: --concurrency senders, each sending as soon as its last send was answered,
 *      for --seconds; messages persisted (answered) and delivered (received by all
 *      subscribers together) per second, and SQL statements per message on the server.
 * Then, to tell the persistence pipeline's capacity from the request path's, the server calls
 * appendMessage directly (--concurrency callers, one conversation, --seconds): no HTTP, GraphQL
 * or authentication; reported in a second table.
 * Prints markdown tables with the machine's conditions on stdout; progress goes to stderr.
 *
 * Options (flag, or environment variable):
 *   --setups floor,pglite,postgres   BENCH_SETUPS
 *   --subscribers 1,100,1000         BENCH_SUBSCRIBERS
 *   --seconds 5                      BENCH_SECONDS        length of each phase
 *   --rate 20                        BENCH_RATE           messages a second in the latency phase
 *   --delivery-rate 5000             BENCH_DELIVERY_RATE  at most this many deliveries a second there
 *   --concurrency 32                 BENCH_CONCURRENCY    senders in the throughput phase
 *   --database-url postgresql://postgres@127.0.0.1:5432/postgres   BENCH_DATABASE_URL
 *                                    (a bench_* database is created there and dropped at the end)
 *   --redis-url redis://127.0.0.1:6379                             BENCH_REDIS_URL
 *   --pool 20                        BENCH_POOL_SIZE      the server's PostgreSQL pool
 *   --cpu-prof                       BENCH_CPU_PROF=1     write the server's CPU profiles to bench/results/profile-*
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import {
  BENCH_LIMITS,
  forkScript,
  Histogram,
  log,
  SEND,
  sleep,
  waitFor,
  type LatencySummary,
  type ReceiverReport,
  type SenderReport,
  type Target,
} from './lib.js';

type Setup = 'floor' | 'pglite' | 'postgres';

const { values: flags } = parseArgs({
  options: {
    setups: { type: 'string' },
    subscribers: { type: 'string' },
    seconds: { type: 'string' },
    rate: { type: 'string' },
    'delivery-rate': { type: 'string' },
    concurrency: { type: 'string' },
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    pool: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (flags.help) {
  const source = fileURLToPath(import.meta.url);
  process.stdout.write(`Usage: npm run bench -- [options]; see the header of ${path.relative(process.cwd(), source)}\n`);
  process.exit(0);
}
const env = process.env;
const options = {
  setups: (flags.setups ?? env.BENCH_SETUPS ?? 'floor,pglite,postgres').split(',').map((s) => s.trim()) as Setup[],
  subscribers: (flags.subscribers ?? env.BENCH_SUBSCRIBERS ?? '1,100,1000').split(',').map(Number),
  seconds: Number(flags.seconds ?? env.BENCH_SECONDS ?? 5),
  rate: Number(flags.rate ?? env.BENCH_RATE ?? 20),
  deliveryRate: Number(flags['delivery-rate'] ?? env.BENCH_DELIVERY_RATE ?? 5000),
  concurrency: Number(flags.concurrency ?? env.BENCH_CONCURRENCY ?? 32),
  databaseUrl: flags['database-url'] ?? env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: flags['redis-url'] ?? env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  pool: Number(flags.pool ?? env.BENCH_POOL_SIZE ?? 20),
  cpuProf: flags['cpu-prof'] ?? env.BENCH_CPU_PROF === '1',
};
for (const s of options.setups) if (!['floor', 'pglite', 'postgres'].includes(s)) throw new Error(`unknown setup ${s}`);

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

interface Row {
  setup: string;
  subscribers: number;
  rate: number;
  latency: LatencySummary;
  sendLatency: LatencySummary;
  lost: number;
  disorder: number;
  persistedPerSecond: number | null;
  sentPerSecond: number;
  deliveredPerSecond: number;
  statementsPerMessage: number | null;
  failedSends: number;
  note?: string;
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
let dropDatabase: (() => Promise<void>) | null = null;
async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  await dropDatabase?.().catch(() => undefined);
}
process.on('SIGINT', () => {
  log('interrupted; cleaning up');
  void cleanup().finally(() => process.exit(130));
});

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await res.json()) as { data?: T; errors?: unknown };
  if (!json.data) throw new Error(`GraphQL failed: ${JSON.stringify(json.errors)}`);
  return json.data;
}

/** One user, one workspace; a room per subscriber count. */
async function seed(url: string): Promise<{ token: string; userId: string; room: () => Promise<string> }> {
  const email = `bench-${Date.now()}@example.com`;
  const signUp = await gql<{ signUp: { accessToken?: string; user?: { id: string }; message?: string } }>(
    url,
    `mutation($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken user { id } } ... on Error { message } } }`,
    { input: { email, password: 'bench-password-1', displayName: 'Bench' } },
  );
  const token = signUp.signUp.accessToken;
  if (!token) throw new Error(`signUp failed: ${signUp.signUp.message}`);
  const ws = await gql<{ createWorkspace: { id: string } }>(
    url,
    `mutation { createWorkspace(input: { name: "Bench" }) { ... on Workspace { id } } }`,
    {},
    token,
  );
  return {
    token,
    userId: signUp.signUp.user!.id,
    room: async () => {
      const r = await gql<{ createRoom: { id: string } }>(
        url,
        `mutation($input: CreateRoomInput!) { createRoom(input: $input) { ... on Room { id } } }`,
        { input: { workspaceId: ws.createWorkspace.id, name: 'Bench room' } },
        token,
      );
      // The first message: receivers subscribe with after: 0 and are live once they have it.
      await gql(url, SEND, { input: { conversationId: r.createRoom.id, body: 'hello' } }, token);
      return r.createRoom.id;
    },
  };
}

async function serverStats(server: ChildProcess): Promise<{ database: { statements: number }; pubsub: { overflows: number }; memory: number }> {
  const reply = waitFor<{ type: string; database: { statements: number }; pubsub: { overflows: number }; memory: number }>(
    server,
    (m) => m.type === 'stats',
    10_000,
    'server stats',
  );
  server.send({ type: 'stats' });
  return reply;
}

async function receiverReport(receiver: ChildProcess): Promise<Extract<ReceiverReport, { type: 'report' }>> {
  const reply = waitFor<ReceiverReport>(receiver, (m) => m.type === 'report', 30_000, 'receiver report');
  receiver.send({ type: 'report' });
  return reply as Promise<Extract<ReceiverReport, { type: 'report' }>>;
}

/** Waits until the receivers have every delivery, or nothing new has arrived for 3 s. */
async function drain(receiver: ChildProcess, expected: number): Promise<Extract<ReceiverReport, { type: 'report' }>> {
  let report = await receiverReport(receiver);
  let last = report.delivered;
  let stillSince = Date.now();
  while (report.delivered < expected && Date.now() - stillSince < 3000) {
    await sleep(100);
    report = await receiverReport(receiver);
    if (report.delivered !== last) {
      last = report.delivered;
      stillSince = Date.now();
    }
  }
  return report;
}

async function runSender(target: Target, url: string, mode: 'rate' | 'concurrent', n: number, token?: string, room?: string): Promise<SenderReport> {
  const sender = track(forkScript('sender.ts', [target, url, mode, String(n), String(options.seconds), token ?? '', room ?? '']));
  return waitFor<SenderReport>(sender, (m) => m.type === 'done', options.seconds * 1000 + 120_000, 'the sender');
}

async function scenario(setup: Setup, target: Target, url: string, server: ChildProcess | null, subscribers: number, seeded?: Awaited<ReturnType<typeof seed>>): Promise<Row> {
  const room = seeded ? await seeded.room() : undefined;
  const wsUrl = `${url.replace(/^http/, 'ws')}${target === 'graphql' ? '/graphql' : ''}`;
  log(`${setup}: ${subscribers} subscriber(s): connecting`);
  const receiver = track(forkScript('receiver.ts', [target, wsUrl, String(subscribers), seeded?.token ?? '', room ?? '']));
  receiver.on('message', (m: ReceiverReport) => {
    if (m.type === 'progress' && m.connected % 250 === 0) log(`${setup}: ${m.connected}/${subscribers} connected`);
    if (m.type === 'error') log(`${setup}: receiver: ${m.message}`);
  });
  await waitFor<ReceiverReport>(receiver, (m) => m.type === 'ready', 300_000, 'subscribers to be live');

  try {
    const rate = Math.min(options.rate, options.deliveryRate / subscribers);
    log(`${setup}: ${subscribers} subscriber(s): latency at ${rate} msg/s for ${options.seconds} s`);
    receiver.send({ type: 'reset' });
    const steady = await runSender(target, url, 'rate', rate, seeded?.token, room);
    const latencyReport = await drain(receiver, steady.ok * subscribers);
    const latency = Histogram.from(latencyReport.histogram, latencyReport.max).summary();
    const sendLatency = Histogram.from(steady.histogram, steady.max).summary();

    log(`${setup}: ${subscribers} subscriber(s): throughput with ${options.concurrency} senders for ${options.seconds} s`);
    receiver.send({ type: 'reset' });
    const before = server && target === 'graphql' ? await serverStats(server) : null;
    const burst = await runSender(target, url, 'concurrent', options.concurrency, seeded?.token, room);
    const after = server && target === 'graphql' ? await serverStats(server) : null;
    const burstReport = await drain(receiver, burst.ok * subscribers);
    const seconds = (burst.endedAt - burst.startedAt) / 1000;
    const deliverySeconds = Math.max(seconds, (burstReport.lastAt - burst.startedAt) / 1000);
    const overflows = after && before ? after.pubsub.overflows - before.pubsub.overflows : 0;
    const failed = steady.failed + burst.failed;
    const notes = [
      failed ? `${failed} sends failed (${steady.firstError ?? burst.firstError})` : '',
      overflows ? `${overflows} subscribers closed as slow consumers` : '',
      burstReport.delivered < burst.ok * subscribers ? `throughput phase: ${burst.ok * subscribers - burstReport.delivered} deliveries missing` : '',
    ].filter(Boolean);
    return {
      setup,
      subscribers,
      rate,
      latency,
      sendLatency,
      lost: steady.ok * subscribers - latencyReport.delivered,
      disorder: latencyReport.disorder + burstReport.disorder,
      persistedPerSecond: target === 'graphql' ? burst.ok / seconds : null,
      sentPerSecond: burst.ok / seconds,
      deliveredPerSecond: burstReport.delivered / deliverySeconds,
      statementsPerMessage: after && before ? (after.database.statements - before.database.statements) / Math.max(1, burst.ok) : null,
      failedSends: failed,
      note: notes.join('; ') || undefined,
    };
  } finally {
    receiver.send({ type: 'stop' });
    await new Promise((r) => receiver.once('exit', r));
  }
}

async function startServer(setup: Setup): Promise<{ server: ChildProcess; url: string; stop: () => Promise<void> }> {
  if (setup === 'floor') {
    const server = track(forkScript('floor.ts', []));
    const ready = await waitFor<{ type: string; url: string }>(server, (m) => m.type === 'ready', 60_000, 'the floor server');
    return { server, url: ready.url, stop: async () => void server.kill('SIGTERM') };
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chat-bench-'));
  const serverEnv: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    GRAPHIQL: 'false',
    DATABASE_URL: '',
    REDIS_URL: '',
    ...BENCH_LIMITS,
  };
  let dbName: string | null = null;
  if (setup === 'postgres') {
    dbName = `bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: options.databaseUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const name = dbName;
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: options.databaseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      dropDatabase = null;
    };
    const url = new URL(options.databaseUrl);
    url.pathname = `/${dbName}`;
    serverEnv.DATABASE_URL = url.toString();
    serverEnv.REDIS_URL = options.redisUrl;
    serverEnv.DATABASE_POOL_SIZE = String(options.pool);
  }
  // One directory per server: the main thread and tsx's loader thread each write a profile.
  const execArgv = options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(resultsDir, `profile-${setup}-${Date.now()}`)}`] : [];
  const server = track(forkScript('server.ts', [], serverEnv, execArgv));
  const ready = await waitFor<{ type: string; url: string; database: string; pubsub: string }>(server, (m) => m.type === 'ready', 120_000, 'the chat server');
  log(`${setup}: server on ${ready.database} with ${ready.pubsub} pub/sub at ${ready.url}`);
  return {
    server,
    url: ready.url,
    stop: async () => {
      server.kill('SIGTERM');
      await new Promise((r) => (server.exitCode === null ? server.once('exit', r) : r(null)));
      await dropDatabase?.();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

function target(subscribers: number): number | null {
  return subscribers >= 1000 ? 60 : subscribers >= 100 ? 20 : null;
}

function conditions(loadBefore: number[], loadAfter: number[]): string {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free at the end`,
    `- Node ${process.version} on ${os.type()} ${os.release()}`,
    `- Load average (1/5/15 min): ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} at the start, ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} at the end`,
    `- Each phase ${options.seconds} s; latency at ${options.rate} messages/s, fewer where that would pass ${options.deliveryRate.toLocaleString('en-US')} deliveries/s; throughput with ${options.concurrency} concurrent senders; PostgreSQL pool ${options.pool}`,
  ].join('\n');
}

function table(rows: Row[]): string {
  const head =
    '| Setup | Subscribers | Persisted msg/s | Delivered msg/s | Latency at msg/s | p50 ms | p99 ms | p99 target | Lost | Out of order | Send p99 ms | SQL/msg | Notes |\n' +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |';
  const lines = rows.map((r) => {
    const t = target(r.subscribers);
    const verdict = t === null || r.setup === 'floor (plain ws)' ? '' : r.latency.p99 <= t ? `≤ ${t} ✓` : `≤ ${t} ✗`;
    const persisted = r.persistedPerSecond === null ? `– (${fmt(r.sentPerSecond)} sent)` : fmt(r.persistedPerSecond);
    return `| ${r.setup} | ${r.subscribers.toLocaleString('en-US')} | ${persisted} | ${fmt(r.deliveredPerSecond)} | ${fmt(r.rate)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p99)} | ${verdict} | ${r.lost} | ${r.disorder} | ${fmt(r.sendLatency.p99)} | ${fmt(r.statementsPerMessage)} | ${r.note ?? ''} |`;
  });
  return [head, ...lines].join('\n');
}

const labels: Record<Setup, string> = { floor: 'floor (plain ws)', pglite: 'PGlite, in-memory pub/sub', postgres: 'PostgreSQL + Redis' };
const loadBefore = os.loadavg();
const started = Date.now();
const rows: Row[] = [];
const pipelineRows: { setup: string; perSecond: number; statements: number }[] = [];
try {
  for (const setup of options.setups) {
    log(`${setup}: starting the server`);
    const { server, url, stop } = await startServer(setup);
    try {
      const seeded = setup === 'floor' ? undefined : await seed(url);
      for (const subscribers of options.subscribers) {
        const row = await scenario(setup, setup === 'floor' ? 'floor' : 'graphql', url, server, subscribers, seeded);
        row.setup = labels[setup];
        rows.push(row);
        log(
          `${setup}: ${subscribers}: p50 ${fmt(row.latency.p50)} ms, p99 ${fmt(row.latency.p99)} ms, ` +
            `${fmt(row.sentPerSecond)} msg/s sent, ${fmt(row.deliveredPerSecond)} deliveries/s${row.note ? ` (${row.note})` : ''}`,
        );
      }
      if (seeded) {
        log(`${setup}: appendMessage alone, ${options.concurrency} concurrent callers for ${options.seconds} s`);
        const conversationId = await seeded.room();
        const reply = waitFor<{ type: string; perSecond: number; statements: number }>(
          server,
          (m) => m.type === 'appended',
          options.seconds * 1000 + 60_000,
          'the append run',
        );
        server.send({ type: 'append', conversationId, authorId: seeded.userId, concurrency: options.concurrency, seconds: options.seconds });
        const { perSecond, statements } = await reply;
        pipelineRows.push({ setup: labels[setup], perSecond, statements });
        log(`${setup}: appendMessage alone: ${fmt(perSecond)} messages/s, ${fmt(statements, 2)} SQL statements each`);
      }
    } finally {
      await stop();
    }
  }
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  await cleanup();
  process.exitCode = 1;
}

const output = [
  `## Delivery benchmark (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round((Date.now() - started) / 1000)} s)`,
  '',
  conditions(loadBefore, os.loadavg()),
  '',
  table(rows),
  '',
  `Persistence pipeline alone (appendMessage called in the server process by ${options.concurrency} concurrent callers, one conversation, no HTTP/GraphQL/auth):`,
  '',
  '| Setup | Persisted msg/s | SQL statements/msg |',
  '| --- | ---: | ---: |',
  ...pipelineRows.map((r) => `| ${r.setup} | ${fmt(r.perSecond)} | ${fmt(r.statements, 2)} |`),
  '',
  'Latency: from the sender issuing the mutation to each subscriber receiving the event. Persisted: sends answered',
  '(committed) per second in the throughput phase; Delivered: events received per second by all subscribers together.',
  'Targets: p99 ≤ 20 ms with 100 subscribers, ≤ 60 ms with 1,000; ≥ 1,000 messages persisted per second on PostgreSQL.',
].join('\n');
process.stdout.write(`${output}\n`);
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, `bench-${started}.md`), `${output}\n`);
