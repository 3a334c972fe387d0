/**
 * `npm run bench:delivery`: end-to-end delivery figures on this machine, this product beside what
 * it must match, in the same run.
 *
 * Setups, each a server in its own process (the load runs in further processes: one receiver
 * process holding every subscriber's socket, one sender process):
 *   floor    a plain `ws` broadcast server, nothing stored (bench/floor.ts): what the machine can do;
 *   peer     a hand-written Socket.IO + PostgreSQL server (bench/peer.ts): one INSERT … RETURNING
 *            per message, then an emit to the room; senders use emitWithAck;
 *   postgres this product on PostgreSQL + Redis (compiled, as `npm start` runs it);
 *   pglite   this product on its embedded defaults.
 * Loads (the same for every setup; `--loads` picks some):
 *   100x100   100 subscribers, 100 messages/s at a steady rate: latency p50/p99;
 *   100f10    100 subscribers, 10 senders each sending as soon as its last send was answered:
 *             deliveries/s (and messages persisted/s);
 *   1000x30   1,000 subscribers, 30 messages/s: latency, and whether deliveries keep up;
 *   1f32      1 subscriber, 32 senders flat out: messages persisted/s in one conversation.
 * The product's senders send over graphql-ws (one socket per sender, as an Apollo or urql client
 * with a graphql-ws link does) and, as a second row, over HTTP; the floor's over its socket, the
 * peer's with socket.io-client. Latency is from the send to each subscriber's receipt.
 * Then the server calls appendMessage directly (--concurrency callers, one conversation): the
 * persistence pipeline's capacity without HTTP, GraphQL or authentication, in a second table.
 * Prints markdown tables with the machine's conditions on stdout (and product ÷ peer ratios);
 * progress goes to stderr.
 *
 * Options (flag, or environment variable):
 *   --setups floor,peer,postgres,pglite   BENCH_SETUPS
 *   --loads 100x100,100f10,1000x30,1f32   BENCH_LOADS
 *   --send-over ws,http              BENCH_SEND_OVER      the product's send transports
 *   --seconds 5                      BENCH_SECONDS        length of each phase
 *   --concurrency 32                 BENCH_CONCURRENCY    callers of appendMessage alone (0: skip that phase)
 *   --database-url postgresql://postgres@127.0.0.1:5432/postgres   BENCH_DATABASE_URL
 *                                    (a bench_* database is created there and dropped at the end)
 *   --redis-url redis://127.0.0.1:6379                             BENCH_REDIS_URL
 *   --pool 20                        BENCH_POOL_SIZE      the server's (and the peer's) PostgreSQL pool
 *   --cpu-prof                       BENCH_CPU_PROF=1     write the server's CPU profiles to bench/results/profile-*
 *   --warmup 10                      BENCH_WARMUP         seconds each load is first run unmeasured, per setup and send
 *                                                         transport, right before it is measured: V8 compiles a server's
 *                                                         hot code for a load's shape over its first ~20 s (a steady
 *                                                         100 msg/s runs other paths than a flat-out burst), and that is
 *                                                         not what a running server's latency is (0: measured cold)
 *   --rounds 1                       BENCH_ROUNDS         measure every load this many times, the setups taking turns (in
 *                                                         the given order, then reversed, and so on) with every server
 *                                                         running throughout: the summary gives each setup's median round
 *                                                         and the median of the rounds' product ÷ peer ratios, so a
 *                                                         disturbance of the shared machine in one phase decides nothing
 *   --server-flags=--trace-deopt     BENCH_SERVER_FLAGS   more node flags for the servers (profiling, tracing; with =)
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
  buildServer,
  BENCH_LIMITS,
  forkScript,
  Histogram,
  log,
  SEND,
  sleep,
  startFlags,
  waitFor,
  type LatencySummary,
  type ReceiverReport,
  type SenderReport,
  type Target,
} from './lib.js';

type Setup = 'floor' | 'peer' | 'postgres' | 'pglite';
type Transport = 'http' | 'ws' | 'sio';

const { values: flags } = parseArgs({
  options: {
    setups: { type: 'string' },
    loads: { type: 'string' },
    'send-over': { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    pool: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    'server-flags': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (flags.help) {
  const source = fileURLToPath(import.meta.url);
  process.stdout.write(`Usage: npm run bench:delivery -- [options]; see the header of ${path.relative(process.cwd(), source)}\n`);
  process.exit(0);
}
const env = process.env;
const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);
const options = {
  setups: list(flags.setups ?? env.BENCH_SETUPS ?? 'floor,peer,postgres,pglite') as Setup[],
  loads: list(flags.loads ?? env.BENCH_LOADS ?? '100x100,100f10,1000x30,1f32'),
  sendOver: list(flags['send-over'] ?? env.BENCH_SEND_OVER ?? 'ws,http') as Transport[],
  seconds: Number(flags.seconds ?? env.BENCH_SECONDS ?? 5),
  concurrency: Number(flags.concurrency ?? env.BENCH_CONCURRENCY ?? 32),
  databaseUrl: flags['database-url'] ?? env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: flags['redis-url'] ?? env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  pool: Number(flags.pool ?? env.BENCH_POOL_SIZE ?? 20),
  cpuProf: flags['cpu-prof'] ?? env.BENCH_CPU_PROF === '1',
  warmup: Number(flags.warmup ?? env.BENCH_WARMUP ?? 10),
  rounds: Math.max(1, Number(flags.rounds ?? env.BENCH_ROUNDS ?? 1)),
  serverFlags: (flags['server-flags'] ?? env.BENCH_SERVER_FLAGS ?? '').split(/\s+/).filter(Boolean),
};
for (const s of options.setups) if (!['floor', 'peer', 'pglite', 'postgres'].includes(s)) throw new Error(`unknown setup ${s}`);
for (const t of options.sendOver) if (!['ws', 'http'].includes(t)) throw new Error(`unknown send transport ${t}`);

/** One load: `<subscribers>x<rate>` (steady rate, latency) or `<subscribers>f<senders>` (senders flat out). */
interface Load {
  key: string;
  subscribers: number;
  /** Messages a second in the latency phase, or null for a throughput phase. */
  rate: number | null;
  /** Senders flat out in a throughput phase. */
  senders: number;
  label: string;
}
function parseLoad(key: string): Load {
  const m = /^(\d+)([xf])(\d+)$/.exec(key);
  if (!m) throw new Error(`a load is <subscribers>x<msg/s> or <subscribers>f<senders>, not ${key}`);
  const subscribers = Number(m[1]);
  const n = Number(m[3]);
  const subs = `${subscribers.toLocaleString('en-US')} sub${subscribers === 1 ? '' : 's'}`;
  return m[2] === 'x'
    ? { key, subscribers, rate: n, senders: 1, label: `${subs} × ${n} msg/s: p50 / p99 ms` }
    : { key, subscribers, rate: null, senders: n, label: `${subs}, ${n} senders flat out: deliveries/s (persisted msg/s)` };
}
const loads = options.loads.map(parseLoad);

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));

interface Row {
  setup: Setup;
  /** Which of the --rounds this phase was (1-based). */
  round: number;
  column: string;
  load: Load;
  transport: Transport;
  latency: LatencySummary;
  sendLatency: LatencySummary;
  lost: number;
  disorder: number;
  offeredPerSecond: number;
  persistedPerSecond: number;
  deliveredPerSecond: number;
  statementsPerMessage: number | null;
  failedSends: number;
  /** The server's CPU time (user + system) over the phase and its drain, per delivery received: µs. */
  cpuPerDelivery: number | null;
  /** The server's write system calls over the phase and its drain, per delivery received (Linux). */
  writesPerDelivery: number | null;
  note?: string;
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
const dropDatabases = new Set<() => Promise<void>>();
async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  for (const drop of dropDatabases) await drop().catch(() => undefined);
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

/** One user, one workspace; a room per scenario. */
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

/** What a server answers to { type: 'stats' }: the product all of it, the floor and the peer only `cpu`. */
interface ServerStats {
  database?: { statements: number };
  pubsub?: { overflows: number };
  memory: number;
  /** process.cpuUsage() of the server, µs. */
  cpu: { user: number; system: number };
  /** Write system calls the server made so far (Linux), or null. */
  writeCalls: number | null;
  /** The server's event-loop delay since its previous stats (ms). */
  loopDelay: { p99: number; max: number };
}

async function serverStats(server: ChildProcess): Promise<ServerStats> {
  const reply = waitFor<ServerStats & { type: string }>(
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

async function runSender(target: Target, url: string, load: Load, transport: Transport, seconds: number, token?: string, room?: string): Promise<SenderReport> {
  const [mode, n] = load.rate === null ? (['concurrent', load.senders] as const) : (['rate', load.rate] as const);
  const sender = track(forkScript('sender.ts', [target, url, mode, String(n), String(seconds), transport, token ?? '', room ?? '']));
  return waitFor<SenderReport>(sender, (m) => m.type === 'done', seconds * 1000 + 120_000, 'the sender');
}

const targets: Record<Setup, Target> = { floor: 'floor', peer: 'peer', postgres: 'graphql', pglite: 'graphql' };

async function scenario(
  setup: Setup,
  url: string,
  server: ChildProcess,
  load: Load,
  transport: Transport,
  seeded?: Awaited<ReturnType<typeof seed>>,
  seconds = options.seconds,
): Promise<Row> {
  const target = targets[setup];
  const room = seeded ? await seeded.room() : `room-${randomBytes(4).toString('hex')}`;
  const wsUrl = `${url.replace(/^http/, 'ws')}${target === 'graphql' ? '/graphql' : ''}`;
  const what = `${setup} ${load.key} over ${transport}`;
  log(`${what}: connecting ${load.subscribers} subscriber(s)`);
  const receiver = track(forkScript('receiver.ts', [target, wsUrl, String(load.subscribers), seeded?.token ?? '', room]));
  receiver.on('message', (m: ReceiverReport) => {
    if (m.type === 'progress' && m.connected % 250 === 0) log(`${what}: ${m.connected}/${load.subscribers} connected`);
    if (m.type === 'error') log(`${what}: receiver: ${m.message}`);
  });
  await waitFor<ReceiverReport>(receiver, (m) => m.type === 'ready', 300_000, 'subscribers to be live');
  try {
    log(`${what}: ${load.rate === null ? `${load.senders} senders flat out` : `${load.rate} msg/s`} for ${seconds} s`);
    receiver.send({ type: 'reset' });
    const before = await serverStats(server);
    const sent = await runSender(target, url, load, transport, seconds, seeded?.token, room);
    const after = await serverStats(server);
    const report = await drain(receiver, sent.ok * load.subscribers);
    // CPU over the phase and its drain (the drain's idle tail adds next to nothing).
    const drained = await serverStats(server);
    const elapsed = (sent.endedAt - sent.startedAt) / 1000;
    // Deliveries of the messages sent in the phase, over the time until the last arrived.
    const deliverySeconds = Math.max(elapsed, (report.lastAt - sent.startedAt) / 1000);
    const overflows = after.pubsub && before.pubsub ? after.pubsub.overflows - before.pubsub.overflows : 0;
    const expected = sent.ok * load.subscribers;
    const notes = [
      sent.failed ? `${sent.failed} sends failed (${sent.firstError})` : '',
      overflows ? `${overflows} subscribers closed as slow consumers` : '',
      report.delivered < expected ? `${expected - report.delivered} deliveries missing` : '',
      // Monitored at 5 ms resolution, so a loop that never stalls still reads about 5 ms.
      `server event-loop delay p99 ${after.loopDelay.p99.toFixed(1)} / max ${after.loopDelay.max.toFixed(1)} ms`,
    ].filter(Boolean);
    return {
      setup,
      round: 1,
      column: '',
      load,
      transport,
      latency: Histogram.from(report.histogram, report.max).summary(),
      sendLatency: Histogram.from(sent.histogram, sent.max).summary(),
      lost: Math.max(0, expected - report.delivered),
      disorder: report.disorder,
      offeredPerSecond: (sent.ok * load.subscribers) / elapsed,
      persistedPerSecond: sent.ok / elapsed,
      deliveredPerSecond: report.delivered / deliverySeconds,
      statementsPerMessage: after.database && before.database ? (after.database.statements - before.database.statements) / Math.max(1, sent.ok) : null,
      failedSends: sent.failed,
      cpuPerDelivery:
        report.delivered > 0
          ? (drained.cpu.user + drained.cpu.system - before.cpu.user - before.cpu.system) / report.delivered
          : null,
      writesPerDelivery:
        report.delivered > 0 && drained.writeCalls !== null && before.writeCalls !== null
          ? (drained.writeCalls - before.writeCalls) / report.delivered
          : null,
      note: notes.join('; ') || undefined,
    };
  } finally {
    receiver.send({ type: 'stop' });
    await new Promise((r) => receiver.once('exit', r));
  }
}

/** A throwaway database for one server: its URL, and how to drop it (only it: other servers may still be running). */
async function scratch(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: options.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const drop = async () => {
    const c = new pg.Client({ connectionString: options.databaseUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
    dropDatabases.delete(drop);
  };
  dropDatabases.add(drop);
  const url = new URL(options.databaseUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop };
}

async function stopChild(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
}

async function startServer(setup: Setup): Promise<{ server: ChildProcess; url: string; stop: () => Promise<void> }> {
  const execArgv = [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(resultsDir, `profile-${setup}-${Date.now()}`)}`] : []), ...options.serverFlags];
  if (setup === 'floor' || setup === 'peer') {
    const database = setup === 'peer' ? await scratch('bench_peer') : null;
    const databaseUrl = database?.url ?? '';
    const server = track(forkScript(`${setup}.ts`, [], { ...process.env, PEER_DATABASE_URL: databaseUrl, PEER_POOL_SIZE: String(options.pool) }, execArgv));
    const ready = await waitFor<{ type: string; url: string }>(server, (m) => m.type === 'ready', 60_000, `the ${setup} server`);
    return {
      server,
      url: ready.url,
      stop: async () => {
        await stopChild(server);
        await database?.drop();
      },
    };
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
  const database = setup === 'postgres' ? await scratch('bench') : null;
  if (database) {
    serverEnv.DATABASE_URL = database.url;
    serverEnv.REDIS_URL = options.redisUrl;
    serverEnv.DATABASE_POOL_SIZE = String(options.pool);
  }
  // The compiled server, as `npm start` runs it (server.ts loads dist/, with the start script's node flags).
  const server = track(forkScript('server.ts', [], serverEnv, [...startFlags(), ...execArgv]));
  const ready = await waitFor<{ type: string; url: string; database: string; pubsub: string }>(server, (m) => m.type === 'ready', 120_000, 'the chat server');
  log(`${setup}: server on ${ready.database} with ${ready.pubsub} pub/sub at ${ready.url}`);
  return {
    server,
    url: ready.url,
    stop: async () => {
      await stopChild(server);
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

function conditions(loadBefore: number[], loadAfter: number[]): string {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free at the end`,
    `- Node ${process.version} on ${os.type()} ${os.release()}`,
    `- Load average (1/5/15 min): ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} at the start, ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} at the end`,
    `- Each phase ${options.seconds} s${options.rounds > 1 ? `, ${options.rounds} rounds per load (the setups taking turns, every server running throughout; the summary gives each setup's median round)` : ''}, after ${options.warmup > 0 ? `${options.warmup} s of the same load, not measured (warm-up)` : 'no warm-up (servers measured cold)'}; server, receivers and senders in separate processes on this machine; PostgreSQL pool ${options.pool} (product and peer)`,
  ].join('\n');
}

/** A cell of the summary: latency for a steady load (with whether deliveries kept up), deliveries/s for a flat-out one. */
function cell(row: Row | undefined): string {
  if (!row) return '–';
  const flags = [row.failedSends ? `${row.failedSends} failed` : '', row.lost ? `${row.lost} lost` : '', row.disorder ? `${row.disorder} out of order` : ''].filter(Boolean);
  let text: string;
  if (row.load.rate !== null) {
    text = `${fmt(row.latency.p50)} / ${fmt(row.latency.p99)}`;
    if (row.deliveredPerSecond < 0.98 * row.offeredPerSecond) flags.push(`fell behind: ${fmt(row.deliveredPerSecond)} of ${fmt(row.offeredPerSecond)} deliveries/s`);
  } else {
    text = `${fmt(row.deliveredPerSecond)} (${fmt(row.persistedPerSecond)})`;
  }
  return flags.length ? `${text} (${flags.join(', ')})` : text;
}

/** What a load is judged by: p99 for a latency load (lower is better), deliveries/s for a flat-out one. */
const metric = (row: Row): number => (row.load.rate !== null ? row.latency.p99 : row.deliveredPerSecond);

/**
 * The middle one of some items by a number, one of them rather than an average. Of an even count,
 * the worse of the two middle ones: the higher when higher is worse (latency), else the lower.
 */
function median<T>(items: T[], by: (item: T) => number, higherIsWorse: boolean): T | undefined {
  const sorted = [...items].sort((a, b) => by(a) - by(b));
  return sorted[higherIsWorse ? Math.floor(sorted.length / 2) : Math.floor((sorted.length - 1) / 2)];
}

/**
 * Product ÷ peer: the p99 ratio for latency loads (≤ 1 is as good), the deliveries/s ratio for
 * flat-out ones (≥ 1 is as good); over several rounds, the median of each round's ratio (the
 * product's phase against the peer's of the same round), with every round's after it.
 */
function ratio(products: Row[], peers: Row[]): string {
  const each = products.flatMap((product) => {
    const peer = peers.find((p) => p.round === product.round);
    return peer ? [metric(product) / metric(peer)] : [];
  });
  if (each.length === 0) return '–';
  const prefix = products[0]!.load.rate !== null ? 'p99 ' : '';
  const middle = median(each, (x) => x, products[0]!.load.rate !== null)!;
  return `${prefix}${middle.toFixed(2)}×${each.length > 1 ? ` (rounds: ${each.map((x) => `${x.toFixed(2)}×`).join(', ')})` : ''}`;
}

function summary(rows: Row[]): string {
  const columns = [...new Set(rows.map((r) => r.column))];
  const productColumns = columns.filter((c) => c.startsWith('product'));
  const head =
    `| Load | ${columns.join(' | ')} | ${productColumns.map((c) => `${c} ÷ peer`).join(' | ')} |\n` +
    `| --- | ${columns.map(() => '---').join(' | ')} | ${productColumns.map(() => '---').join(' | ')} |`;
  const lines = loads.map((load) => {
    const at = (column: string) => rows.filter((r) => r.load === load && r.column === column);
    const peer = rows.filter((r) => r.load === load && r.setup === 'peer');
    // Over several rounds, each setup's median round (by what the load is judged by).
    return `| ${load.label} | ${columns.map((c) => cell(median(at(c), metric, load.rate !== null))).join(' | ')} | ${productColumns.map((c) => ratio(at(c), peer)).join(' | ')} |`;
  });
  return [head, ...lines].join('\n');
}

const TRANSPORT_ORDER: Transport[] = ['sio', 'ws', 'http'];

function details(rows: Row[]): string {
  const head =
    '| Setup | Load | Round | Sent over | Persisted msg/s | Delivered/s | Offered/s | p50 ms | p99 ms | Max ms | Lost | Out of order | Send p99 ms | SQL/msg | Server CPU µs/delivery | Server writes/delivery | Notes |\n' +
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |';
  const ordered = [...rows].sort((a, b) => options.setups.indexOf(a.setup) - options.setups.indexOf(b.setup) || loads.indexOf(a.load) - loads.indexOf(b.load) || TRANSPORT_ORDER.indexOf(a.transport) - TRANSPORT_ORDER.indexOf(b.transport) || a.round - b.round);
  const lines = ordered.map(
    (r) =>
      `| ${r.column} | ${r.load.key} | ${r.round} | ${r.transport} | ${fmt(r.persistedPerSecond)} | ${fmt(r.deliveredPerSecond)} | ${fmt(r.offeredPerSecond)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p99)} | ${fmt(r.latency.max)} | ${r.lost} | ${r.disorder} | ${fmt(r.sendLatency.p99)} | ${fmt(r.statementsPerMessage)} | ${fmt(r.cpuPerDelivery)} | ${fmt(r.writesPerDelivery, 2)} | ${r.note ?? ''} |`,
  );
  return [head, ...lines].join('\n');
}

const labels: Record<Setup, string> = {
  floor: 'floor: plain ws broadcast',
  peer: 'peer: Socket.IO + PostgreSQL',
  postgres: 'product, PostgreSQL + Redis',
  pglite: 'product, embedded',
};

buildServer();

const loadBefore = os.loadavg();
const started = Date.now();
const rows: Row[] = [];
const pipelineRows: { setup: string; perSecond: number; statements: number }[] = [];
interface Running {
  setup: Setup;
  server: ChildProcess;
  url: string;
  stop: () => Promise<void>;
  seeded: Awaited<ReturnType<typeof seed>> | undefined;
  transports: Transport[];
}
const running: Running[] = [];
try {
  // Every server runs throughout, so that the setups can take turns at each load (--rounds).
  for (const setup of options.setups) {
    log(`${setup}: starting the server`);
    const { server, url, stop } = await startServer(setup);
    const transports: Transport[] = setup === 'peer' ? ['sio'] : setup === 'floor' ? ['ws'] : setup === 'pglite' ? options.sendOver.slice(0, 1) : options.sendOver;
    const entry: Running = { setup, server, url, stop, seeded: undefined, transports };
    running.push(entry); // before seeding, so that a failure there still stops it (finally, below)
    entry.seeded = targets[setup] === 'graphql' ? await seed(url) : undefined;
  }
  for (const load of loads) {
    for (let round = 1; round <= options.rounds; round++) {
      // In the given order, then reversed: a drift of the machine over a load's rounds favours no setup.
      const order = round % 2 === 1 ? running : [...running].reverse();
      for (const { setup, server, url, seeded, transports } of order) {
        for (const transport of transports) {
          // Warmed once per load: the JIT state a load leaves stays for its later rounds.
          if (round === 1 && options.warmup > 0) {
            const warm = await scenario(setup, url, server, load, transport, seeded, options.warmup);
            log(`${setup} ${load.key} over ${transport}, warm-up (not measured): ${cell(warm)}`);
          }
          const row = await scenario(setup, url, server, load, transport, seeded);
          row.round = round;
          row.column = targets[setup] === 'graphql' ? `${labels[setup]} (sent over ${transport})` : labels[setup];
          rows.push(row);
          log(`${setup} ${load.key} over ${transport}${options.rounds > 1 ? ` (round ${round})` : ''}: ${cell(row)}${row.note ? ` (${row.note})` : ''}`);
        }
      }
    }
  }
  for (const { setup, server, seeded } of running) {
    if (!seeded || options.concurrency <= 0) continue;
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
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  await cleanup();
  process.exitCode = 1;
} finally {
  for (const { stop } of running) await stop().catch((err: Error) => log(`stopping a server: ${err.message}`));
}

const output = [
  `## Delivery benchmark (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round((Date.now() - started) / 1000)} s)`,
  '',
  conditions(loadBefore, os.loadavg()),
  '',
  summary(rows),
  '',
  'Latency loads: p50 / p99 ms from the send to each subscriber\'s receipt (÷ peer: the p99 ratio, ≤ 1 matches the peer). Flat-out loads:',
  'deliveries received per second by all subscribers together, with messages persisted (answered) per second in brackets (÷ peer: the',
  'deliveries ratio, ≥ 1 matches the peer). "Fell behind": deliveries/s below 98 % of what was offered. Server CPU µs/delivery:',
  'the server process\'s CPU time (user + system, process.cpuUsage()) from the start of the phase until its deliveries drained,',
  'sends included, divided by the deliveries received. Server writes/delivery: the write system calls it made meanwhile (Linux',
  '/proc/self/io syscw: sockets, database and logs alike) per delivery.',
  '',
  details(rows),
  '',
  `Persistence pipeline alone (appendMessage called in the server process by ${options.concurrency} concurrent callers, one conversation, no HTTP/GraphQL/auth):`,
  '',
  '| Setup | Persisted msg/s | SQL statements/msg |',
  '| --- | ---: | ---: |',
  ...pipelineRows.map((r) => `| ${r.setup} | ${fmt(r.perSecond)} | ${fmt(r.statements, 2)} |`),
].join('\n');
process.stdout.write(`${output}\n`);
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, `bench-${started}.md`), `${output}\n`);
