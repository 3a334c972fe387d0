/**
 * `npm run bench:abuse`: issue 11's attacks, each in a loop for --seconds (default 10) from a
 * process of its own, against the chat server (NODE_ENV=production, embedded database, the
 * default limits; `--postgres`: on PostgreSQL + Redis) in another process, while a well-behaved client in a third process times
 * `{ __typename }` and sendMessage. Prints a table: each attack's p99 against the idle p99,
 * and what the server answered the attacker. Only servers it starts itself, on loopback.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { buildServer, forkScript, log, scratchDatabase, waitFor, type LatencySummary } from './lib.js';

const seconds = Number(process.argv.find((a) => a.startsWith('--seconds='))?.split('=')[1] ?? process.env.BENCH_SECONDS ?? 10);
const only = process.argv.find((a) => a.startsWith('--attacks='))?.split('=')[1]?.split(',');
// --profile=DIR: the server writes a V8 CPU profile there when it exits (open it in Chrome's
// DevTools), to see what a row's stalls are made of.
const profileDir = process.argv.find((a) => a.startsWith('--profile='))?.split('=')[1];
const ATTACKS: Array<[string, string]> = [
  ['nesting', 'workspace → members → workspace … nested 15 times'],
  ['aliases', '2,000 aliases of messages(first: 100) (~280 KB)'],
  ['typenameFlood', '0.9 MB of `aN: __typename`, anonymous (under GRAPHQL_MAX_BODY_BYTES)'],
  ['introspection', '100 aliased `__schema` walks, anonymous'],
  ['bruteForce', 'logIn guesses: 200 aliased per request, and single ones'],
  ['signUps', 'sign-ups as fast as answered'],
  ['wsSendFlood', 'graphql-ws sockets sending 1,000 sendMessage/s, reconnecting when closed'],
  ['wsSubscriptions', 'graphql-ws sockets asking 5,000 subscriptions each, reconnecting when closed'],
  ['idleSockets', '3,000 idle WebSockets from one address'],
  ['socketIoFlood', 'Socket.IO (legacy 002) at 1,000 events/s'],
  ['legacyMalformed', '`GET /send/%/` in a loop'],
];
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const children: ChildProcess[] = [];
const track = (c: ChildProcess) => (children.push(c), c);

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-abuse-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: '0',
  DATA_DIR: dataDir,
  JWT_SECRET: randomBytes(48).toString('base64url'),
  CORS_ORIGINS: 'http://localhost:3000',
  LOG_LEVEL: 'fatal',
  // The normal client signs up and goes on at once (no mailbox to confirm from); the sign-up
  // flood's cost is the same work either way (a password hash and one insert per sign-up).
  SIGNUP_CONFIRMATION: 'false',
};
// The embedded database and in-memory pub/sub, as `npm start` runs by default; with --postgres,
// PostgreSQL (a throwaway database) and Redis, as production runs: the embedded database runs
// its SQL and file I/O on the server's own event loop, so attacks that write (sends) cost the
// other clients more there.
const onPostgres = process.argv.includes('--postgres');
delete env.DATABASE_URL;
delete env.REDIS_URL;
const scratch = onPostgres ? await scratchDatabase('bench_abuse', process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres') : null;
if (scratch) {
  env.DATABASE_URL = scratch.url;
  env.REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  // Counters of earlier runs in the shared Redis must not count here.
  env.RATE_LIMIT_KEY_PREFIX = `bench-abuse-${randomBytes(6).toString('hex')}`;
}
const setup = onPostgres ? 'PostgreSQL + Redis' : 'embedded database, in-memory pub/sub';

async function gql(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Record<string, any>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await res.json()) as { data?: Record<string, any>; errors?: unknown };
  if (!json.data) throw new Error(`${query.slice(0, 40)}: ${JSON.stringify(json.errors)}`);
  return json.data;
}

/** A user with a workspace and a room of their own. */
async function seed(url: string, tag: string): Promise<{ token: string; workspaceId: string; conversationId: string }> {
  const signed = await gql(
    url,
    `mutation S($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken } ... on Error { code message } } }`,
    { input: { email: `${tag}-${Date.now()}@example.com`, password: 'password-123', displayName: tag } },
  );
  const token = signed.signUp.accessToken as string;
  const ws = await gql(url, `mutation { createWorkspace(input: { name: "${tag}" }) { ... on Workspace { id } } }`, {}, token);
  const workspaceId = ws.createWorkspace.id as string;
  const room = await gql(url, `mutation { createRoom(input: { workspaceId: "${workspaceId}", name: "${tag}" }) { ... on Room { id } } }`, {}, token);
  return { token, workspaceId, conversationId: room.createRoom.id as string };
}

interface Phase {
  name: string;
  what: string;
  typename: LatencySummary;
  send: LatencySummary;
  failed: number;
  outcomes?: Record<string, number>;
}

const fmt = (n: number) => (Number.isNaN(n) ? '–' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));

buildServer();
const loadBefore = os.loadavg();
const started = Date.now();
const phases: Phase[] = [];
try {
  const server = track(forkScript('server.ts', [], env, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []));
  const { url } = await waitFor<{ type: string; url: string }>(server, (m) => m.type === 'ready', 180_000, 'the chat server');
  log(`server at ${url} (NODE_ENV=production, ${setup})`);
  const probeSeed = await seed(url, 'probe');
  const attackerSeed = await seed(url, 'attacker');
  const probe = track(forkScript('abuse-probe.ts', [url, probeSeed.token, probeSeed.conversationId]));
  await waitFor(probe, (m: { type: string }) => m.type === 'ready', 60_000, 'the probe');
  const report = async (): Promise<{ typename: LatencySummary; send: LatencySummary; failed: number }> => {
    const reply = waitFor<{ type: string; typename: LatencySummary; send: LatencySummary; failed: number }>(probe, (m) => m.type === 'report', 60_000, 'a probe report');
    probe.send({ type: 'report' });
    return reply;
  };
  await new Promise((r) => setTimeout(r, 2000));
  await report(); // warm-up discarded
  log(`idle for ${seconds} s`);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  phases.push({ name: 'idle', what: 'no attack', ...(await report()) });
  for (const [name, what] of ATTACKS.filter(([n]) => !only || only.includes(n))) {
    log(`${name}: ${what}`);
    const attacker = track(
      forkScript('abuse-attacker.ts', [name, url, attackerSeed.token, attackerSeed.workspaceId, attackerSeed.conversationId, String(seconds)]),
    );
    const done = await waitFor<{ type: string; outcomes: Record<string, number> }>(attacker, (m) => m.type === 'done', seconds * 1000 + 120_000, name);
    phases.push({ name, what, ...(await report()), outcomes: done.outcomes });
    // Let what the attack left (sockets closing, queues) settle before the next.
    await new Promise((r) => setTimeout(r, 2000));
    await report();
  }
  probe.send({ type: 'stop' });
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  rmSync(dataDir, { recursive: true, force: true });
  await scratch?.drop();
}

const idle = phases.find((p) => p.name === 'idle');
const ratio = (p: number, base: number | undefined) => (base ? p / base : NaN);
const rows = phases.map((p) => {
  const rt = ratio(p.typename.p99, idle?.typename.p99);
  const rs = ratio(p.send.p99, idle?.send.p99);
  const verdict = p.name === 'idle' ? '' : rt < 5 && rs < 5 ? '✓' : '✗';
  const answered = Object.entries(p.outcomes ?? {})
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, n]) => `${k} ×${n.toLocaleString('en-US')}`)
    .join(', ');
  return `| ${p.what} | ${fmt(p.typename.p99)} (${p.name === 'idle' ? '1' : rt.toFixed(1)}×) | ${fmt(p.send.p99)} (${p.name === 'idle' ? '1' : rs.toFixed(1)}×) | ${p.typename.count + p.send.count} | ${p.failed} | ${verdict} | ${answered} |`;
});
const cpus = os.cpus();
const output = [
  `## Abuse benchmark (${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round((Date.now() - started) / 1000)} s)`,
  '',
  `- CPU: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}; Node ${process.version}`,
  `- Load average (1/5/15 min): ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} at the start, ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} at the end`,
  `- Server: NODE_ENV=production, ${setup}, default limits; each attack ${seconds} s from its own process`,
  '- Normal client: `{ __typename }` every 20 ms and sendMessage every 300 ms over HTTP, from a third process',
  '',
  '| Attack | `{ __typename }` p99 ms (× idle) | sendMessage p99 ms (× idle) | Normal requests | Normal failures | p99 < 5× idle | What the attacker got (top 3) |',
  '| --- | ---: | ---: | ---: | ---: | :---: | --- |',
  ...rows,
].join('\n');
process.stdout.write(`${output}\n`);
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, `abuse-${started}.md`), `${output}\n`);
