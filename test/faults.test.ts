/**
 * Faults an operator will meet, end to end: three server processes behind nginx (Debian's
 * package, round robin, WebSockets proxied, no stickiness), sharing a PostgreSQL cluster and a
 * redis-server of the test's own (throwaway, on free loopback ports), which the test stops and
 * starts. Never the shared 5432/6379 servers other test files use meanwhile.
 *
 * Figures (outage-to-complete times, send latencies) are measured and printed; assertions wait
 * for conditions, bounded only by the issue's own limits, generously, since the machine is shared.
 *
 * Runs on the CI's PostgreSQL pass (DATABASE_URL set), which has the services' binaries; skipped
 * on the embedded pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Client } from 'graphql-ws';
import { nginxMissing, startCluster, type Cluster } from './helpers/cluster.js';
import { faultServicesMissing, startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './helpers/services.js';
import { gql, gqlRetrying, metricSum, parseMetrics, wsClient, type RetryLog } from './helpers/raw-client.js';
import { until } from './helpers/app.js';
import { Agent, request } from 'node:http';
import { resumable } from '../src/client/resume.js';

const skipReason = !process.env.DATABASE_URL
  ? 'embedded pass: fault tests run on the PostgreSQL pass (they start their own PostgreSQL, Redis and nginx)'
  : (faultServicesMissing() ?? nginxMissing());

const SignUp = `mutation FaultSignUp($input: SignUpInput!) { signUp(input: $input) { __typename ... on AuthPayload { accessToken user { id } } ... on Error { code message } } }`;
const CreateWorkspace = `mutation FaultWorkspace($name: String!) { createWorkspace(input: { name: $name }) { __typename ... on Workspace { id } ... on Error { code message } } }`;
const CreateRoom = `mutation FaultRoom($input: CreateRoomInput!) { createRoom(input: $input) { __typename ... on Room { id } ... on Error { code message } } }`;
export const Send = `mutation FaultSend($input: SendMessageInput!) { sendMessage(input: $input) { __typename ... on Message { id seq body } ... on Error { code message } } }`;
const FirstMessage = `query FaultFirst($id: ID!) { conversation(id: $id) { messages(first: 1) { edges { node { id seq } } } } }`;
const React = `mutation FaultReact($messageId: ID!, $emoji: String!) { addReaction(messageId: $messageId, emoji: $emoji) { __typename ... on Message { id } ... on Error { code message } } }`;
export const Events = `subscription FaultEvents($id: ID!, $after: Int) { conversationEvents(conversationId: $id, after: $after) { type seq message { id seq body } } }`;

interface Subscriber {
  client: Client & { connects: number };
  seqs: number[];
  /** Every stream entry, as `TYPE:seq` (messages and changes to them). */
  entries: string[];
  errors: unknown[];
  done: boolean;
  dispose: () => void;
}

/**
 * Subscriptions this file holds open. A disposed one is ended by a message the server handles
 * a moment later, so a test that counts the instances' subscriptions first waits for the
 * previous test's to be gone (or it would count them and then see them leave).
 */
let open = 0;

function subscribe(client: Client & { connects: number }, conversationId: string, after: number | null): Subscriber {
  const sub: Subscriber = { client, seqs: [], entries: [], errors: [], done: false, dispose: () => {} };
  let ended = false;
  const end = () => {
    if (!ended) open--;
    ended = true;
  };
  open++;
  const unsubscribe = client.subscribe(
    { query: Events, variables: { id: conversationId, after } },
    {
      next: (r) => {
        if (r.errors) sub.errors.push(r.errors);
        const e = (r.data as { conversationEvents?: { type: string; seq: number } } | undefined)?.conversationEvents;
        if (e?.type === 'MESSAGE_ADDED') sub.seqs.push(e.seq);
        if (e) sub.entries.push(`${e.type}:${e.seq}`);
      },
      error: (err) => {
        sub.errors.push(err);
        end();
      },
      complete: () => {
        sub.done = true;
        end();
      },
    },
  );
  sub.dispose = () => {
    end();
    unsubscribe();
  };
  return sub;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(Boolean(skipReason))(`faults behind nginx, three instances${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let cluster: Cluster;
  let token: string;
  let workspaceId: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    redis = await startPrivateRedis();
    cluster = await startCluster(3, { DATABASE_URL: postgres.url, REDIS_URL: redis.url, DATABASE_POOL_SIZE: '8' });
    const email = `fault-${Date.now()}@example.com`;
    const signUp = await gql(cluster.url, SignUp, { input: { email, password: 'password-123', displayName: 'Ops' } });
    token = signUp.body.data!.signUp.accessToken;
    const ws = await gql(cluster.url, CreateWorkspace, { name: 'Faults' }, token);
    workspaceId = ws.body.data!.createWorkspace.id;
  }, 300_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await cluster?.stop();
    await redis?.destroy();
    postgres?.destroy();
  }, 120_000);

  async function room(): Promise<string> {
    const res = await gql(cluster.url, CreateRoom, { input: { workspaceId, name: `room-${Date.now()}` } }, token);
    const id = res.body.data?.createRoom?.id as string | undefined;
    if (!id) throw new Error(JSON.stringify(res.body));
    return id;
  }

  /** `n` subscribers through nginx, spread over the instances by its round robin; checked. */
  async function subscribers(conversationId: string, n: number): Promise<Subscriber[]> {
    // After an outage an instance reconnects to Redis on its own schedule (backing off up to
    // 500 ms, src/redis/connect.ts), and until then it refuses new subscriptions, retryable. These subscribers do not
    // retry, so they start once every instance is ready again.
    await until(async () => (await Promise.all(cluster.instances.map((i) => readyz(i.url)))).every((r) => r.status === 200), 30_000);
    await until(async () => {
      const now = await Promise.all(cluster.instances.map((i) => scrape(i.url)));
      return now.reduce((a, m) => a + metricSum(m, 'chat_subscriptions'), 0) === open;
    }, 30_000);
    const before = await Promise.all(cluster.instances.map((i) => scrape(i.url)));
    const subs: Subscriber[] = [];
    for (let k = 0; k < n; k++) {
      const client = wsClient(cluster.wsUrl, token);
      clients.push(client);
      subs.push(subscribe(client, conversationId, 0));
    }
    // Live on every instance: each has gained at least one WebSocket.
    await until(async () => {
      const now = await Promise.all(cluster.instances.map((i) => scrape(i.url)));
      return now.every((m, i) => metricSum(m, 'chat_ws_connections') > metricSum(before[i]!, 'chat_ws_connections'));
    }, 60_000);
    await until(async () => {
      const now = await Promise.all(cluster.instances.map((i) => scrape(i.url)));
      return now.reduce((a, m) => a + metricSum(m, 'chat_subscriptions'), 0) >= before.reduce((a, m) => a + metricSum(m, 'chat_subscriptions'), 0) + n;
    }, 60_000);
    return subs;
  }

  async function scrape(url: string) {
    const res = await fetch(`${url}/metrics`);
    return parseMetrics(await res.text());
  }

  async function readyz(url: string): Promise<{ status: number; checks: Record<string, string> }> {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, checks: ((await res.json()) as { checks: Record<string, string> }).checks };
  }

  it('Redis stopped 5 s amid 1,000 messages at 100 msg/s: every subscriber on every instance gets all 1,000 once, in order, without reconnecting; no send waits on Redis', async () => {
    const conversationId = await room();
    const subs = await subscribers(conversationId, 6);
    const log: RetryLog = { retried: [], failed: [] };
    const TOTAL = 1000;
    const latencies: Array<{ i: number; at: number; ms: number }> = [];
    let redisDownAt = 0;
    /** When stopping Redis began: connections see it close before stop() returns. */
    let redisStoppingAt = 0;
    let redisBackAt = 0;
    const readyDuringOutage: Array<{ status: number; checks: Record<string, string> }> = [];
    const start = Date.now();
    const sends: Promise<void>[] = [];
    const outage = (async () => {
      await until(() => Date.now() - start >= 3000, 60_000);
      redisStoppingAt = Date.now();
      await redis.stop();
      redisDownAt = Date.now();
      // Readiness while down, on every instance (directly, not through nginx).
      await sleep(1000);
      for (const i of cluster.instances) readyDuringOutage.push(await readyz(i.url));
      await until(() => Date.now() - redisDownAt >= 5000, 60_000);
      await redis.start();
      redisBackAt = Date.now();
    })();
    for (let i = 1; i <= TOTAL; i++) {
      const due = start + i * 10;
      if (due > Date.now()) await sleep(due - Date.now());
      const sentAt = Date.now();
      sends.push(
        gqlRetrying(cluster.url, Send, { input: { conversationId, body: `m${i}`, clientMessageId: `redis-${i}` } }, token, log).then((a) => {
          expect(a.body.data?.sendMessage?.__typename).toBe('Message');
          latencies.push({ i, at: sentAt, ms: Date.now() - sentAt });
        }),
      );
    }
    await Promise.all(sends);
    await outage;
    const sendingEnded = Date.now();
    await until(() => subs.every((s) => s.seqs.length >= TOTAL), 120_000);
    const allDelivered = Date.now();

    for (const s of subs) {
      expect(s.errors).toEqual([]);
      expect(s.seqs).toEqual(range(1, TOTAL));
      expect(s.client.connects).toBe(1);
    }
    const duringOutage = latencies.filter((l) => l.at >= redisDownAt && l.at <= redisBackAt);
    const before = latencies.filter((l) => l.at < redisDownAt);
    const slowest = Math.max(...duringOutage.map((l) => l.ms));
    for (const r of readyDuringOutage) {
      expect(r.status).toBe(503);
      expect(r.checks.redis).toMatch(/^failing: /);
    }
    console.log(
      `[faults] Redis outage: ${((redisBackAt - redisDownAt) / 1000).toFixed(1)} s; ${duringOutage.length} sends during it: p50 ${percentile(duringOutage.map((l) => l.ms), 0.5)} ms, ` +
        `p99 ${percentile(duringOutage.map((l) => l.ms), 0.99)} ms, slowest ${slowest} ms; before it: p50 ${percentile(before.map((l) => l.ms), 0.5)} ms, p99 ${percentile(before.map((l) => l.ms), 0.99)} ms ` +
        `(all sends: p50 ${percentile(latencies.map((l) => l.ms), 0.5)} ms, max ${Math.max(...latencies.map((l) => l.ms))} ms, retried ${log.retried.length}); ` +
        `all ${subs.length} subscribers complete ${((allDelivered - redisBackAt) / 1000).toFixed(2)} s after Redis returned ` +
        `(sending ended ${((sendingEnded - redisBackAt) / 1000).toFixed(2)} s after it); readyz while down: ${JSON.stringify(readyDuringOutage.map((r) => r.checks.redis))}`,
    );
    // Latencies under this load depend on the shared machine (every send queues, Redis or not):
    // printed above, not asserted (see the quiet outage below). What is asserted is that nobody
    // is left behind: once Redis is back and the last send answered, every subscriber has every
    // message within 10 s (a stream reads all its gaps at once: stream.ts).
    expect(allDelivered - Math.max(redisBackAt, sendingEnded)).toBeLessThan(10_000);
    // Operators read the outage, not its reconnection attempts: per instance, each group of Redis
    // connections (the pub/sub's two, the one for state) opens its outage with one line and
    // closes it with one (src/redis/connect.ts), and nothing else is logged at warn or above.
    const outageLines = cluster.instances.map((inst) =>
      inst.logs.filter((l) => (l.time as number) >= redisDownAt - 100 && (l.time as number) <= allDelivered && l.level >= 40).map((l) => l.msg),
    );
    console.log(`[faults] warn/error lines per instance during the Redis outage: ${outageLines.map((lines) => lines.length).join('/')}: ${JSON.stringify([...new Set(outageLines.flat())])}`);
    for (const lines of outageLines) expect(lines.filter((msg) => !/outage (began|ended)$/.test(msg))).toEqual([]);
    const outageOf = (inst: (typeof cluster.instances)[number]) =>
      inst.logs.filter((l) => (l.time as number) >= redisStoppingAt && typeof l.outage === 'string' && /outage (began|ended)$/.test(l.msg)).map((l) => l.msg);
    await until(() => cluster.instances.every((inst) => outageOf(inst).filter((msg) => /ended$/.test(msg)).length >= 2), 30_000);
    for (const inst of cluster.instances) {
      expect(outageOf(inst).sort()).toEqual([
        'Redis (state) available again: outage ended',
        'Redis (state) unavailable: outage began',
        'pub/sub (Redis) available again: outage ended',
        'pub/sub (Redis) unavailable: outage began',
      ]);
    }
    expect(log.failed).toEqual([]);
    subs.forEach((s) => s.dispose());
  }, 300_000);

  it('two messages and a reaction sent during a quiet Redis outage, nothing after: every subscriber gets all three once Redis is back', async () => {
    const conversationId = await room();
    const subs = await subscribers(conversationId, 6);
    const log: RetryLog = { retried: [], failed: [] };
    await redis.stop();
    // Every instance has noticed (its /readyz says so) before the messages are sent.
    await until(async () => (await Promise.all(cluster.instances.map((i) => readyz(i.url)))).every((r) => r.status === 503), 30_000);
    // Operators see it: pub/sub down in /metrics; a new subscription is refused, retryable.
    const during = await Promise.all(cluster.instances.map((i) => scrape(i.url)));
    expect(during.map((m) => metricSum(m, 'chat_pubsub_up'))).toEqual([0, 0, 0]);
    const late = wsClient(cluster.wsUrl, token);
    clients.push(late);
    const refused = await new Promise<{ code?: string; retryable?: boolean }>((resolve) =>
      late.subscribe(
        { query: Events, variables: { id: conversationId, after: 0 } },
        { next: (r) => resolve((r.errors?.[0] as { extensions?: { code?: string; retryable?: boolean } } | undefined)?.extensions ?? {}), error: () => resolve({}), complete: () => undefined },
      ),
    );
    expect(refused).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    const sendMs: number[] = [];
    for (const i of [1, 2]) {
      const t = Date.now();
      const a = await gqlRetrying(cluster.url, Send, { input: { conversationId, body: `quiet ${i}`, clientMessageId: `quiet-${i}` } }, token, log);
      expect(a.body.data?.sendMessage?.__typename).toBe('Message');
      sendMs.push(Date.now() - t);
    }
    // A change to a message is an entry of the stream too: the catch-up recovers it like a message.
    const first = await gqlRetrying(cluster.url, FirstMessage, { id: conversationId }, token, log);
    const messageId = first.body.data?.conversation?.messages?.edges?.[0]?.node?.id as string;
    const reacted = await gqlRetrying(cluster.url, React, { messageId, emoji: '👍' }, token, log);
    expect(reacted.body.data?.addReaction?.__typename).toBe('Message');
    await sleep(1000);
    await redis.start();
    const back = Date.now();
    await until(() => subs.every((s) => s.entries.length >= 3), 60_000);
    const complete = Date.now();
    for (const s of subs) {
      expect(s.entries).toEqual(['MESSAGE_ADDED:1', 'MESSAGE_ADDED:2', 'REACTION_ADDED:1']);
      expect(s.client.connects).toBe(1);
    }
    console.log(`[faults] quiet Redis outage: sends took ${sendMs.join(', ')} ms; every subscriber had both messages and the reaction ${((complete - back) / 1000).toFixed(2)} s after Redis returned`);
    // No send waited for Redis: both were answered while it was still down (it is started only
    // after them). Their times are printed above (the issue's bound is 1 s; on this shared
    // machine a send's time depends on everyone's load, so it is reported, not asserted).
    subs.forEach((s) => s.dispose());
    // Everyone is ready again.
    await until(async () => (await Promise.all(cluster.instances.map((i) => readyz(i.url)))).every((r) => r.status === 200), 30_000);
  }, 300_000);

  it('PostgreSQL stopped 5 s: sends answer SERVICE_UNAVAILABLE, retryable, HTTP 503, while it is down (times printed); retried with the same clientMessageId each is stored once; one line opens and one closes the outage per instance', async () => {
    const conversationId = await room();
    const subs = await subscribers(conversationId, 3);
    const log: RetryLog = { retried: [], failed: [] };
    const logsBefore = cluster.instances.map((i) => i.logs.length);
    const TOTAL = 200;
    let pgDownAt = 0;
    let pgBackAt = 0;
    const start = Date.now();
    // While it is down, single sends one at a time on top of the load: how fast a client is told.
    const probes: Array<{ ms: number; doneAt: number; status: number; code?: string; retryable?: boolean }> = [];
    let pgStarting = Infinity;
    const outage = (async () => {
      await until(() => Date.now() - start >= 2000, 60_000);
      postgres.stop();
      pgDownAt = Date.now();
      while (Date.now() - pgDownAt < 4000) {
        const a = await gql(cluster.url, Send, { input: { conversationId, body: 'probe', clientMessageId: `probe-${probes.length}` } }, token).catch(() => null);
        if (a) probes.push({ ms: a.ms, doneAt: Date.now(), status: a.status, code: a.body.errors?.[0]?.extensions?.code, retryable: a.body.errors?.[0]?.extensions?.retryable });
        await sleep(250);
      }
      await until(() => Date.now() - pgDownAt >= 5000, 60_000);
      pgStarting = Date.now();
      postgres.start();
      pgBackAt = Date.now();
    })();
    const sends: Promise<unknown>[] = [];
    for (let i = 1; i <= TOTAL; i++) {
      const due = start + i * 50;
      if (due > Date.now()) await sleep(due - Date.now());
      sends.push(gqlRetrying(cluster.url, Send, { input: { conversationId, body: `p${i}`, clientMessageId: `pg-${i}` } }, token, log, 120_000));
    }
    const answers = (await Promise.all(sends)) as Array<{ body: { data?: Record<string, any> } }>;
    await outage;
    expect(answers.every((a) => a.body.data?.sendMessage?.__typename === 'Message')).toBe(true);
    expect(log.failed).toEqual([]);
    const refused = log.retried.filter((r) => r.code === 'SERVICE_UNAVAILABLE');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.retryable).toBe(true);
      expect(r.status).toBe(503);
    }
    const others = log.retried.filter((r) => r.code !== 'SERVICE_UNAVAILABLE');
    const slowestRefusal = Math.max(...refused.map((r) => r.ms));

    // Stored once each, seqs without holes.
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    const rows = (await db.query('SELECT seq, "clientMessageId" FROM "Message" WHERE "conversationId" = $1 ORDER BY seq', [conversationId])).rows as Array<{ seq: number; clientMessageId: string }>;
    await db.end();
    const stored = rows.filter((r) => r.clientMessageId.startsWith('pg-'));
    expect(rows.map((r) => r.seq)).toEqual(range(1, rows.length));
    expect(stored.length).toBe(TOTAL);
    expect(new Set(stored.map((r) => r.clientMessageId)).size).toBe(TOTAL);

    await until(() => subs.every((s) => s.seqs.length >= rows.length), 60_000);
    for (const s of subs) expect(s.seqs).toEqual(range(1, rows.length));

    // One line opens the outage and one closes it, per instance (each saw it: round robin).
    await until(() => cluster.instances.every((i) => i.logs.slice(logsBefore[i.index]).some((l) => l.outage === 'database' && /outage ended/.test(l.msg))), 30_000);
    const lines = cluster.instances.map((i) => i.logs.slice(logsBefore[i.index]).filter((l) => l.outage === 'database'));
    for (const l of lines) {
      expect(l.map((x) => x.msg)).toEqual(['database unavailable: outage began', 'database available again: outage ended']);
    }
    const errorLines = cluster.instances.map((i) => i.logs.slice(logsBefore[i.index]).filter((l) => l.level >= 50 && l.outage !== 'database'));
    const kinds = new Map<string, number>();
    for (const l of errorLines.flat()) kinds.set(`${String(l.component ?? '')}: ${l.msg}`, (kinds.get(`${String(l.component ?? '')}: ${l.msg}`) ?? 0) + 1);
    console.log(
      `[faults] PostgreSQL outage ${((pgBackAt - pgDownAt) / 1000).toFixed(1)} s: ${refused.length} attempts answered SERVICE_UNAVAILABLE (503, retryable), slowest in ${Math.round(slowestRefusal)} ms ` +
        `(p50 ${percentile(refused.map((r) => r.ms), 0.5)} ms); ${others.length} other retries (${[...new Set(others.map((o) => o.why))].join('; ')}); ` +
        `${TOTAL} messages stored once each; outage lines per instance: ${lines.map((l) => l.length).join('/')}; error-level lines per instance in the window: ${errorLines.map((l) => l.length).join('/')}; ` +
        `durations logged: ${lines.map((l) => l[1]?.durationMs).join('/')} ms; ` +
        `single probes while down: ${probes.map((p) => `${Math.round(p.ms)} ms ${p.status} ${p.code}`).join(', ')}; other error lines: ${JSON.stringify([...kinds])}`,
    );
    // Single sends while it is down were all refused at once, typed and retryable, while it was
    // still down (a send waiting for the database would have succeeded after it returned). Their
    // times are printed above: the issue's bound is 1 s, reported rather than asserted on a shared
    // machine whose load sets every request's time.
    const whileDown = probes.filter((p) => p.doneAt < pgStarting);
    expect(whileDown.length).toBeGreaterThan(0);
    for (const p of whileDown) {
      expect(p.code).toBe('SERVICE_UNAVAILABLE');
      expect(p.status).toBe(503);
      expect(p.retryable).toBe(true);
    }
    subs.forEach((s) => s.dispose());
  }, 300_000);

  it('SIGTERM to one of three instances during 200 msg/s: clients retrying on 503 or a closed connection see no failure; nothing lost or duplicated; /readyz never ready from the signal on (new connections refused)', async () => {
    const conversationId = await room();
    // Subscribers that resume: graphql-ws reconnects (through nginx, to a live instance) and the
    // helper resubscribes after the last seq seen.
    const subs: Subscriber[] = [];
    for (let k = 0; k < 6; k++) {
      const client = wsClient(cluster.wsUrl, token, { retryAttempts: Infinity });
      clients.push(client);
      subs.push(subscribe(resumable(client) as typeof client, conversationId, 0));
    }
    await until(async () => {
      const now = await Promise.all(cluster.instances.map((i) => scrape(i.url)));
      return now.every((m) => metricSum(m, 'chat_subscriptions') >= 1);
    }, 60_000);
    const victim = cluster.instances[2]!;
    const survivors = cluster.instances.filter((i) => i !== victim);

    // /readyz of the victim, polled over one keep-alive connection (then new ones) all along.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const probes: Array<{ sentAt: number; status: number | string }> = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const sentAt = Date.now();
        const status = await new Promise<number | string>((resolve) => {
          const req = request(`${victim.url}/readyz`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
          req.end();
        });
        probes.push({ sentAt, status });
        await sleep(20);
      }
    })();

    const log: RetryLog = { retried: [], failed: [] };
    const TOTAL = 1000;
    const start = Date.now();
    let signalAt = 0;
    const answers: Promise<{ status: number; body: { data?: Record<string, any> } }>[] = [];
    for (let i = 1; i <= TOTAL; i++) {
      const due = start + i * 5;
      if (due > Date.now()) await sleep(due - Date.now());
      if (i === 300) {
        victim.proc.kill('SIGTERM');
        signalAt = Date.now();
      }
      answers.push(gqlRetrying(cluster.url, Send, { input: { conversationId, body: `t${i}`, clientMessageId: `term-${i}` } }, token, log, 120_000));
    }
    const results = await Promise.all(answers);
    const exitCode = await victim.exited;
    polling = false;
    await poll;
    agent.destroy();

    const notStored = results.filter((r) => r.status !== 200 || r.body.data?.sendMessage?.__typename !== 'Message');
    expect(notStored).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(exitCode).toBe(0);

    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    const rows = (await db.query('SELECT seq, "clientMessageId" FROM "Message" WHERE "conversationId" = $1 ORDER BY seq', [conversationId])).rows as Array<{ seq: number; clientMessageId: string }>;
    await db.end();
    expect(rows.length).toBe(TOTAL);
    expect(rows.map((r) => r.seq)).toEqual(range(1, TOTAL));
    expect(new Set(rows.map((r) => r.clientMessageId)).size).toBe(TOTAL);

    await until(() => subs.every((s) => s.seqs.length >= TOTAL), 120_000);
    for (const s of subs) expect(s.seqs).toEqual(range(1, TOTAL));

    // From the moment the process handled the signal (its draining line), /readyz never said 200.
    const drainingLine = victim.logs.find((l) => /^draining/.test(l.msg));
    expect(drainingLine).toBeDefined();
    const drainingAt = drainingLine!.time as number;
    const after = probes.filter((p) => p.sentAt > drainingAt);
    const reconnected = subs.filter((s) => s.client.connects > 1).length;
    const stoppedLine = victim.logs.find((l) => l.msg === 'stopped');
    console.log(
      `[faults] SIGTERM: handled ${drainingAt - signalAt} ms after the signal, stopped ${Number(stoppedLine?.time ?? 0) - drainingAt} ms after that, exit ${exitCode}; ` +
        `${TOTAL} sends, ${log.retried.length} retried (${[...new Set(log.retried.map((r) => r.why))].join('; ')}), 0 failed; ` +
        `${reconnected} of ${subs.length} subscribers reconnected and resumed, each got 1..${TOTAL} once; /readyz after the signal: ` +
        `${JSON.stringify(after.reduce<Record<string, number>>((acc, p) => ({ ...acc, [String(p.status)]: (acc[String(p.status)] ?? 0) + 1 }), {}))}; survivors: ${survivors.map((i) => i.port).join(', ')}`,
    );
    // Never ready again: 503 on a connection that was open, refused on a new one (the listener
    // closes at once; idle keep-alive connections are closed).
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((p) => p.status === 200)).toEqual([]);
    subs.forEach((s) => s.dispose());
  }, 300_000);
});

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
}
