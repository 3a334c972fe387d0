/**
 * Server CPU per delivered message: legacy 002 through the Socket.IO shim, the same message
 * through GraphQL (sendMessage over graphql-ws, conversationEvents subscribers over graphql-ws),
 * and, as the floor, a plain Socket.IO relay with no persistence at all, in the same run.
 *
 *   npx tsx bench/socketio-shim.ts        (with DATABASE_URL: on a fresh PostgreSQL database)
 *
 * The server is `src/main.ts` in a child process (embedded PGlite unless DATABASE_URL is set, so
 * on PGlite the database's own work is in the server's figure, as it is in production's process);
 * the relay is a child process of its own; the load (senders and receivers) runs in a third
 * process per measurement. Server CPU is read from /proc/<pid>/stat (user + system, every thread)
 * before and after the measured messages; the load process reports when every receiver has every
 * message. Each sender sends its next message when the previous one is answered.
 *
 * Shape (env): BENCH_ROOMS rooms (4), each with one sender and BENCH_RECEIVERS receivers (4),
 * BENCH_MESSAGES messages per sender (100) after BENCH_WARMUP (30); BENCH_ROUNDS rounds (4), each
 * measuring shim, GraphQL and relay in turn (order alternating), after an uncounted warm-up round.
 * CPU time on a shared machine is noisy (other processes thrash the caches): the summary gives the
 * ratio over all rounds, the median of the rounds' own ratios, and the ratio of each path's best
 * round. Prints a markdown table and writes
 * bench/results/socketio-shim.json. Linux only (reads /proc).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { BENCH_LIMITS, scratchDatabase } from './lib.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '..');
const TICK_MS = 1000 / 100; // USER_HZ; `getconf CLK_TCK` is 100 on Linux

const shape = {
  rooms: Number(process.env.BENCH_ROOMS ?? 4),
  receivers: Number(process.env.BENCH_RECEIVERS ?? 4),
  messages: Number(process.env.BENCH_MESSAGES ?? 100),
  warmup: Number(process.env.BENCH_WARMUP ?? 30),
  rounds: Number(process.env.BENCH_ROUNDS ?? 4),
};

type Mode = 'shim' | 'graphql' | 'relay';
/** BENCH_MODES=shim,graphql measures only those (the ratio needs shim and graphql). */
const modes = (process.env.BENCH_MODES ?? 'shim,graphql,relay').split(',').filter((m): m is Mode => ['shim', 'graphql', 'relay'].includes(m));

interface LoadConfig {
  mode: Mode;
  url: string;
  workspaceId: string;
  apiKey: string;
  tag: string;
  rooms: number;
  receivers: number;
  messages: number;
  warmup: number;
}

interface LoadResult {
  sent: number;
  delivered: number;
  ms: number;
  sendP50: number;
  sendP95: number;
  deliveryP50: number;
  deliveryP95: number;
}

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function gql<T>(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// The load: senders and receivers of one mode, in a process of their own.

const MESSAGE_FIELDS = `id seq conversationId body kind side clientMessageId createdAt deleted replyTo { id } author { id displayName kind }`;

async function runLoad(config: LoadConfig, send: (message: unknown) => void, next: () => Promise<unknown>): Promise<void> {
  let delivered = 0;
  let counting = false;
  const deliveries: number[] = [];
  const sendTimes: number[] = [];
  const onDelivered = (body: string) => {
    delivered++;
    if (!counting) return;
    const at = Number(body.split(' ')[1]);
    if (at) deliveries.push(performance.timeOrigin + performance.now() - at);
  };
  const perReceiver: number[] = [];
  const senders: Array<(body: string) => Promise<void>> = [];
  const closers: Array<() => void> = [];

  if (config.mode === 'graphql') {
    const guest = async (sessionId: string) =>
      (
        await gql<{ startGuestSession: { accessToken: string; user: { id: string } } }>(
          config.url,
          `mutation ($input: GuestSessionInput!) { startGuestSession(input: $input) { ... on AuthPayload { accessToken user { id } } } }`,
          { input: { workspaceId: config.workspaceId, sessionId, displayName: sessionId } },
        )
      ).startGuestSession;
    const wsUrl = `${config.url.replace(/^http/, 'ws')}/graphql`;
    const client = (token: string): WsClient => {
      const c = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
      closers.push(() => void c.dispose());
      return c;
    };
    for (let r = 0; r < config.rooms; r++) {
      const sender = await guest(`bench-${config.tag}-s${r}`);
      const receivers = await Promise.all(Array.from({ length: config.receivers }, (_, k) => guest(`bench-${config.tag}-r${r}-${k}`)));
      const room = await gql<{ openRoom: { id: string } }>(
        config.url,
        `mutation ($input: OpenRoomInput!) { openRoom(input: $input) { ... on Room { id } ... on Error { message } } }`,
        { input: { workspaceId: config.workspaceId, key: `bench-${config.tag}-${r}`, memberIds: [sender.user.id, ...receivers.map((x) => x.user.id)] } },
        config.apiKey,
      );
      const conversationId = room.openRoom.id;
      for (const receiver of receivers) {
        const index = perReceiver.push(0) - 1;
        client(receiver.accessToken).subscribe(
          { query: `subscription ($id: ID!) { conversationEvents(conversationId: $id) { type seq message { ${MESSAGE_FIELDS} } } }`, variables: { id: conversationId } },
          {
            next: (result) => {
              const event = (result.data as { conversationEvents?: { type: string; message?: { body: string } } } | undefined)?.conversationEvents;
              if (event?.type === 'MESSAGE_ADDED' && event.message) {
                perReceiver[index]!++;
                onDelivered(event.message.body);
              }
            },
            error: (err) => console.error('subscription failed', err),
            complete: () => undefined,
          },
        );
      }
      const ws = client(sender.accessToken);
      senders.push(
        (body) =>
          new Promise<void>((resolve, reject) => {
            let done = false;
            const dispose = ws.subscribe(
              {
                query: `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { __typename ... on Message { ${MESSAGE_FIELDS} } ... on Error { code message } } }`,
                variables: { input: { conversationId, body, side: 'LEFT' } },
              },
              {
                next: (result) => {
                  done = true;
                  const typename = (result.data as { sendMessage?: { __typename: string } } | undefined)?.sendMessage?.__typename;
                  if (typename !== 'Message') reject(new Error(JSON.stringify(result)));
                  setTimeout(dispose, 0);
                  resolve();
                },
                error: reject,
                complete: () => (done ? undefined : reject(new Error('no result'))),
              },
            );
          }),
      );
    }
  } else {
    const connect = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = io(config.url, {
          transports: ['websocket'],
          reconnection: false,
          auth: { workspace_id: config.workspaceId, api_key: config.apiKey },
        });
        closers.push(() => socket.disconnect());
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });
    const ask = (socket: Socket, event: string, payload: unknown): Promise<{ status: string; data: unknown }> =>
      new Promise((resolve) => {
        const listener = (reply: { operation: string; status: string; data: unknown }) => {
          if (reply.operation !== event) return;
          socket.off('my_response', listener);
          resolve(reply);
        };
        socket.on('my_response', listener);
        socket.emit(event, payload);
      });
    for (let r = 0; r < config.rooms; r++) {
      const room = `bench-${config.tag}-${r}`;
      const sender = await connect();
      const joined = await ask(sender, 'join', { room });
      if (joined.status !== 'success') throw new Error(JSON.stringify(joined));
      for (let k = 0; k < config.receivers; k++) {
        const receiver = await connect();
        const index = perReceiver.push(0) - 1;
        receiver.on('my_response', (reply: { operation: string; data: { message_data: string } }) => {
          if (reply.operation !== 'message_event') return;
          perReceiver[index]!++;
          onDelivered(reply.data.message_data);
        });
        await ask(receiver, 'join', { room });
      }
      senders.push(async (body) => {
        const reply = await ask(sender, 'message_event', {
          type: 'text',
          room_id: room,
          message_data: body,
          side: 'left',
          author: `bench-${config.tag}-s${r}`,
          message_type: 'normal',
        });
        if (reply.status !== 'success') throw new Error(JSON.stringify(reply));
      });
    }
  }

  // Warm up: every receiver hears at least one message (so every subscription is live), then the rest.
  let warm = 0;
  while (perReceiver.some((n) => n === 0) || warm < config.warmup) {
    await Promise.all(senders.map((s) => s(`warmup ${Date.now()}`)));
    warm++;
    if (warm > config.warmup + 200) throw new Error(`receivers not live after ${warm} messages: ${perReceiver.join(',')}`);
    if (perReceiver.some((n) => n === 0)) await new Promise((r) => setTimeout(r, 20));
  }
  const expectWarm = warm * config.rooms * config.receivers;
  for (let i = 0; delivered < expectWarm && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
  send({ type: 'ready' });
  await next(); // go

  delivered = 0;
  counting = true;
  const started = performance.now();
  await Promise.all(
    senders.map(async (s) => {
      for (let i = 0; i < config.messages; i++) {
        const t0 = performance.now();
        await s(`m ${performance.timeOrigin + performance.now()}`);
        sendTimes.push(performance.now() - t0);
      }
    }),
  );
  const expected = config.messages * config.rooms * config.receivers;
  const deadline = Date.now() + 60_000;
  while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const result: LoadResult = {
    sent: config.messages * config.rooms,
    delivered,
    ms: performance.now() - started,
    sendP50: percentile(sendTimes, 50),
    sendP95: percentile(sendTimes, 95),
    deliveryP50: percentile(deliveries, 50),
    deliveryP95: percentile(deliveries, 95),
  };
  send({ type: 'done', result });
  await next(); // close
  for (const close of closers) close();
}

// ---------------------------------------------------------------------------------------------
// The floor: a Socket.IO relay that stores nothing, with the same events and reply shapes.

async function runRelay(): Promise<void> {
  const server = createServer();
  const relay = new Server(server, { serveClient: false });
  let n = 0;
  relay.on('connection', (socket) => {
    socket.emit('my_response', { status: 'success', operation: 'connect', data: { message: 'Welcome', sid: socket.id } });
    socket.on('join', (p: { room: string }) => {
      void socket.join(p.room);
      socket.emit('my_response', { status: 'success', operation: 'join', data: { room_id: p.room, messages: [] } });
    });
    socket.on('message_event', (p: Record<string, unknown>) => {
      const reply = { status: 'success', operation: 'message_event', data: { ...p, _id: String(++n), created_at: new Date().toISOString() } };
      socket.emit('my_response', reply);
      socket.to(String(p.room_id)).emit('my_response', reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  process.send!({ type: 'ready', url: `http://127.0.0.1:${port}` });
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.

function messages(child: ChildProcess): { next: () => Promise<Record<string, unknown>> } {
  const queue: Record<string, unknown>[] = [];
  const waiters: Array<(m: Record<string, unknown>) => void> = [];
  child.on('message', (m: Record<string, unknown>) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    next: () =>
      queue.length
        ? Promise.resolve(queue.shift()!)
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('a child process did not answer within 180 s')), 180_000);
            waiters.push((m) => {
              clearTimeout(timer);
              resolve(m);
            });
          }),
  };
}

function forkSelf(role: string, arg?: unknown): ChildProcess {
  return fork(here, [role, ...(arg ? [JSON.stringify(arg)] : [])], { execArgv: ['--import', 'tsx'], cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function startServer(dataDir: string, databaseUrl: string | undefined): Promise<{ child: ChildProcess; url: string }> {
  // BENCH_PROFILE=<dir> writes the server's CPU profile there (node --cpu-prof), to find what costs.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      GRAPHIQL: 'false',
      DATABASE_URL: databaseUrl ?? '',
      REDIS_URL: '',
      LEGACY_API_KEY: '',
      JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789abcdef',
      ...BENCH_LIMITS,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('the server did not start within 120 s')), 120_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    child.stdout!.on('data', (data: Buffer) => {
      buffered += data.toString();
      const match = /"url":"(http:[^"]+)"/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
      buffered = buffered.slice(Math.max(0, buffered.lastIndexOf('\n')));
    });
  });
  // Keep reading, so that a full pipe never blocks the server.
  child.stdout!.resume();
  return { child, url };
}

interface Measured extends LoadResult {
  mode: Mode;
  round: number;
  serverCpuMs: number;
}

async function measure(mode: Mode, round: number, target: { url: string; pid: number }, setup: { workspaceId: string; apiKey: string }): Promise<Measured> {
  const config: LoadConfig = { mode, url: target.url, ...setup, tag: `${mode}${round}-${randomBytes(2).toString('hex')}`, ...shape };
  const load = forkSelf('load', config);
  const inbox = messages(load);
  const ready = await inbox.next();
  if (ready.type !== 'ready') throw new Error(`load: ${JSON.stringify(ready)}`);
  await new Promise((r) => setTimeout(r, 300));
  const before = cpuMsOf(target.pid);
  load.send({ type: 'go' });
  const done = await inbox.next();
  const after = cpuMsOf(target.pid);
  load.send({ type: 'close' });
  await new Promise((r) => load.once('exit', r));
  const result = done.result as LoadResult;
  return { mode, round, ...result, serverCpuMs: after - before };
}

async function orchestrate(): Promise<void> {
  const conditions = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadBefore: loadavg().map((x) => x.toFixed(2)).join(' '),
    node: process.version,
    database: process.env.DATABASE_URL ? 'PostgreSQL (separate process: its CPU is not in the figures)' : 'PGlite (in the server process: its CPU is in the figures)',
  };
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-sio-'));
  const database = await scratchDatabase('bench_sio');
  const server = await startServer(dataDir, database?.url);
  const relay = forkSelf('relay');
  const relayReady = await messages(relay).next();
  const results: Measured[] = [];
  try {
    const suffix = `${process.pid}-${Date.now()}`;
    const admin = (
      await gql<{ signUp: { accessToken: string } }>(
        server.url,
        `mutation ($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken } } }`,
        { input: { email: `bench-${suffix}@example.com`, password: 'password-123', displayName: 'Bench' } },
      )
    ).signUp;
    const ws = await gql<{ createWorkspace: { id: string } }>(server.url, `mutation { createWorkspace(input: { name: "Bench" }) { ... on Workspace { id } } }`, {}, admin.accessToken);
    const key = await gql<{ issueApiKey: { secret: string } }>(
      server.url,
      `mutation ($w: ID!) { issueApiKey(input: { workspaceId: $w, name: "bench" }) { ... on IssuedApiKey { secret } } }`,
      { w: ws.createWorkspace.id },
      admin.accessToken,
    );
    const setup = { workspaceId: ws.createWorkspace.id, apiKey: key.issueApiKey.secret };
    const idle0 = cpuMsOf(server.child.pid!);
    await new Promise((r) => setTimeout(r, 3000));
    const idleMsPerS = (cpuMsOf(server.child.pid!) - idle0) / 3;

    const targetOf = (mode: Mode) => (mode === 'relay' ? { url: relayReady.url as string, pid: relay.pid! } : { url: server.url, pid: server.child.pid! });
    // Round 0 warms the server (JIT, the database's caches) on every path and is not counted:
    // whichever path went first would otherwise pay for it. Later rounds alternate the order.
    for (let round = 0; round <= shape.rounds; round++) {
      const order = round % 2 === 0 ? [...modes].reverse() : modes;
      for (const mode of order) {
        const m = await measure(mode, round, targetOf(mode), setup);
        if (round > 0) results.push(m);
        console.error(`round ${round}${round === 0 ? ' (warm-up, not counted)' : ''} ${mode}: ${m.delivered}/${m.sent * shape.receivers} delivered, server CPU ${m.serverCpuMs.toFixed(0)} ms`);
      }
    }
    const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
    const perDelivered = (m: Measured) => (m.serverCpuMs * 1000) / m.delivered;
    const perSent = (m: Measured) => (m.serverCpuMs * 1000) / m.sent;
    const sum = (mode: Mode, f: (m: Measured) => number) => results.filter((m) => m.mode === mode).reduce((a, m) => a + f(m), 0);
    const total = (mode: Mode) => (sum(mode, (m) => m.serverCpuMs) * 1000) / sum(mode, (m) => m.delivered);
    const ratio = total('shim') / total('graphql');
    const floor = total('shim') / total('relay');
    const of = (mode: Mode, round: number) => results.find((m) => m.mode === mode && m.round === round)!;
    const rounds = [...new Set(results.map((m) => m.round))];
    const perRound = rounds.map((r) => perDelivered(of('shim', r)) / perDelivered(of('graphql', r))).sort((a, b) => a - b);
    const medianRatio = perRound.length % 2 ? perRound[(perRound.length - 1) / 2]! : (perRound[perRound.length / 2 - 1]! + perRound[perRound.length / 2]!) / 2;
    const best = (mode: Mode) => Math.min(...results.filter((m) => m.mode === mode).map(perDelivered));
    const bestRatio = best('shim') / best('graphql');

    const lines = [
      `### Socket.IO shim vs GraphQL vs a plain Socket.IO relay (server CPU per delivered message)`,
      '',
      `${shape.rooms} rooms × (1 sender + ${shape.receivers} receivers), ${shape.messages} messages per sender after ${shape.warmup} warm-up; ` +
        `each sender waits for its reply before the next message; an uncounted warm-up round first. Load from a separate process; server CPU from /proc/<pid>/stat.`,
      '',
      '| round | path | sent | delivered | server CPU (ms) | µs CPU / delivered | µs CPU / sent | send p50 / p95 (ms) | delivery p50 / p95 (ms) |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.map(
        (m) =>
          `| ${m.round} | ${m.mode === 'shim' ? 'Socket.IO shim (legacy 002)' : m.mode === 'graphql' ? 'GraphQL (graphql-ws)' : 'plain Socket.IO relay (floor)'} | ${m.sent} | ${m.delivered} | ` +
          `${m.serverCpuMs.toFixed(0)} | ${perDelivered(m).toFixed(0)} | ${perSent(m).toFixed(0)} | ${m.sendP50.toFixed(1)} / ${m.sendP95.toFixed(1)} | ${m.deliveryP50.toFixed(1)} / ${m.deliveryP95.toFixed(1)} |`,
      ),
      '',
      `Shim ÷ GraphQL, server CPU per delivered message (target ≤ 1.25×): **${ratio.toFixed(2)}×** over all rounds; ` +
        `median of the rounds' ratios ${medianRatio.toFixed(2)}× (${perRound.map((x) => x.toFixed(2)).join(', ')}); best round of each ${bestRatio.toFixed(2)}×. ` +
        `Shim ÷ plain Socket.IO relay (the floor): ${floor.toFixed(1)}× over all rounds.`,
      '',
      `Machine: ${conditions.cpu}, ${conditions.cores} cores (shared), load average ${conditions.loadBefore} before and ${loadAfter} after; ` +
        `Node ${conditions.node}; database ${conditions.database}; pub/sub in memory; idle server CPU ${idleMsPerS.toFixed(1)} ms/s (sweeps, presence), included in every figure.`,
    ];
    console.log(lines.join('\n'));
    mkdirSync(path.join(root, 'bench/results'), { recursive: true });
    writeFileSync(
      path.join(root, 'bench/results/socketio-shim.json'),
      JSON.stringify({ shape, conditions: { ...conditions, loadAfter, idleMsPerS }, results, ratio, medianRatio, bestRatio, floor }, null, 2),
    );
  } finally {
    relay.kill('SIGTERM');
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    await database?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const role = process.argv[2];
if (role === 'load') {
  const inbox: Array<(m: unknown) => void> = [];
  const queued: unknown[] = [];
  process.on('message', (m) => {
    const w = inbox.shift();
    if (w) w(m);
    else queued.push(m);
  });
  const next = () => (queued.length ? Promise.resolve(queued.shift()) : new Promise((r) => inbox.push(r)));
  runLoad(JSON.parse(process.argv[3]!) as LoadConfig, (m) => process.send!(m), next).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else if (role === 'relay') {
  void runRelay();
} else {
  orchestrate().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
