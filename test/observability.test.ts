/**
 * What operators and client authors rely on: /metrics in Prometheus' format with every metric
 * moving under a small bench run (parsed here), request ids in responses and error extensions,
 * and the client side of resume (src/client/resume.ts): a client killed and reconnected three
 * times during a stream gets every message once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestApp, until, type TestApp } from './helpers/app.js';
import { workspace } from './helpers/fixtures.js';
import { gql, metricSum, parseMetrics } from './helpers/raw-client.js';
import { resumable } from '../src/client/resume.js';
import { pino } from 'pino';

const CreateRoom = `mutation ObsRoom($input: CreateRoomInput!) { createRoom(input: $input) { __typename ... on Room { id } ... on Error { code message } } }`;
const Send = `mutation ObsSend($input: SendMessageInput!) { sendMessage(input: $input) { __typename ... on Message { id seq } ... on Error { code message } } }`;
const Events = `subscription ObsEvents($id: ID!, $after: Int) { conversationEvents(conversationId: $id, after: $after) { type seq message { id seq body } } }`;
const Me = `query ObsMe { me { id } }`;
const Missing = `query ObsMissing($id: ID!) { conversation(id: $id) { id } }`;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ SUBSCRIPTION_QUEUE_LIMIT: '20' });
});
afterAll(async () => {
  await t?.close();
});

async function scrape() {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

async function room(token: string, workspaceId: string): Promise<string> {
  const res = await gql(t.url, CreateRoom, { input: { workspaceId, name: 'obs' } }, token);
  return res.body.data!.createRoom.id as string;
}

function seqsOf(client: Pick<Client, 'subscribe'>, id: string, after: number) {
  const seqs: number[] = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe(
    { query: Events, variables: { id, after } },
    {
      next: (r) => {
        if (r.errors) errors.push(r.errors);
        const e = (r.data as { conversationEvents?: { type: string; seq: number } } | undefined)?.conversationEvents;
        if (e?.type === 'MESSAGE_ADDED') seqs.push(e.seq);
      },
      error: (err) => errors.push(err),
      complete: () => undefined,
    },
  );
  return { seqs, errors, dispose };
}

describe('metrics', () => {
  it('/metrics parses as Prometheus text, and a bench run moves every metric', async () => {
    const before = await scrape();
    const ws = await workspace(t);
    const id = await room(ws.admin.token, ws.id);
    // The bench run: 5 subscribers over graphql-ws, 50 sends over HTTP and 10 over graphql-ws.
    const clients = Array.from({ length: 5 }, () => t.ws({ token: ws.admin.token }));
    const subs = clients.map((c) => seqsOf(c, id, 0));
    await until(() => t.app.services.pubsub.stats.subscribers >= 5);
    for (let i = 0; i < 50; i++) await gql(t.url, Send, { input: { conversationId: id, body: `b${i}` } }, ws.admin.token);
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve, reject) =>
        clients[0]!.subscribe({ query: Send, variables: { input: { conversationId: id, body: `w${i}` } } }, { next: () => undefined, error: reject, complete: resolve }),
      );
    }
    await until(() => subs.every((s) => s.seqs.length === 60));
    // A catch-up round (in production: after Redis returns, and periodically with Redis).
    await t.app.services.catchUp.run('periodic');
    // A refusal by a defense (more aliases than GRAPHQL_MAX_ALIASES), counted by its one refusal path.
    const aliases = await gql(t.url, `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: __typename`).join(' ')} }`);
    expect(aliases.body.errors?.[0]?.extensions?.code).toBe('ALIAS_LIMIT_EXCEEDED');

    // A slow consumer: a raw socket with 8 subscriptions that stops reading while big messages
    // keep coming (its kernel buffers fill, then what the server holds for it).
    const raw = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => raw.on('close', (code) => resolve(code)));
    await new Promise((r) => raw.once('open', r));
    raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ws.admin.token}` } }));
    await new Promise((r) => raw.once('message', r));
    for (let k = 0; k < 8; k++) raw.send(JSON.stringify({ id: `slow${k}`, type: 'subscribe', payload: { query: Events, variables: { id, after: null } } }));
    await until(() => t.app.services.pubsub.stats.subscribers >= 13);
    raw.pause();
    const big = 'x'.repeat(9_000);
    const closes = async () => (await t.app.services.metrics.slowConsumerCloses.get()).values[0]?.value ?? 0;
    for (let i = 0; i < 3000 && (await closes()) === 0; i++) {
      await gql(t.url, Send, { input: { conversationId: id, body: `${i} ${big}` } }, ws.admin.token);
    }
    const during = await scrape();
    raw.resume();
    expect(await closed).toBe(4008);
    const missing = await gql(t.url, Missing, { id: UNKNOWN_ID }, ws.admin.token);
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const after = await scrape();
    const moved = (name: string, match = '') => metricSum(after, name, match) > metricSum(before, name, match);
    const changes: Record<string, boolean> = {
      'chat_http_requests_total (POST /graphql 200)': moved('chat_http_requests_total', 'route="/graphql",status="200"'),
      'chat_http_request_duration_seconds_count': moved('chat_http_request_duration_seconds_count', 'route="/graphql"'),
      'chat_graphql_operations_total http mutation ObsSend ok': moved('chat_graphql_operations_total', 'transport="http",type="mutation",operation="ObsSend",outcome="ok"'),
      'chat_graphql_operations_total ws mutation ObsSend ok': moved('chat_graphql_operations_total', 'transport="ws",type="mutation",operation="ObsSend",outcome="ok"'),
      'chat_graphql_operations_total ws subscription ObsEvents': moved('chat_graphql_operations_total', 'transport="ws",type="subscription",operation="ObsEvents"'),
      'chat_graphql_operations_total http query ObsMissing NOT_FOUND': moved('chat_graphql_operations_total', 'transport="http",type="query",operation="ObsMissing",outcome="NOT_FOUND"'),
      'chat_graphql_operation_duration_seconds_count': moved('chat_graphql_operation_duration_seconds_count', 'operation="ObsSend"'),
      'chat_ws_connections (during)': metricSum(during, 'chat_ws_connections') > metricSum(before, 'chat_ws_connections'),
      'chat_subscriptions (during)': metricSum(during, 'chat_subscriptions') > metricSum(before, 'chat_subscriptions'),
      chat_deliveries_total: moved('chat_deliveries_total'),
      chat_pubsub_published_total: moved('chat_pubsub_published_total'),
      chat_slow_consumer_closes_total: moved('chat_slow_consumer_closes_total'),
      chat_subscription_overflows_total: moved('chat_subscription_overflows_total') || moved('chat_slow_consumer_closes_total'),
      'chat_catchups_total{reason="periodic"}': moved('chat_catchups_total', 'reason="periodic"'),
      chat_rate_limit_refusals_total: moved('chat_rate_limit_refusals_total', 'scope="aliases"'),
      chat_database_statements_total: moved('chat_database_statements_total'),
      'chat_nodejs_eventloop_lag_seconds (sampled)': (after.get('chat_nodejs_eventloop_lag_seconds')?.[0]?.value ?? 0) > 0,
      chat_process_cpu_seconds_total: moved('chat_process_cpu_seconds_total'),
    };
    expect(Object.entries(changes).filter(([, ok]) => !ok)).toEqual([]);
    // Health gauges: up now (their fall during outages is shown by test/faults.test.ts).
    expect(metricSum(after, 'chat_pubsub_up')).toBe(1);
    expect(metricSum(after, 'chat_database_up')).toBe(1);
    console.log(
      `[metrics] moved: ${Object.keys(changes).length} checks; deliveries ${metricSum(before, 'chat_deliveries_total')} → ${metricSum(after, 'chat_deliveries_total')}, ` +
        `slow-consumer closes ${metricSum(after, 'chat_slow_consumer_closes_total')}, series ${[...after.keys()].length}`,
    );
    subs.forEach((s) => s.dispose());
    raw.terminate();
  }, 180_000);

  it('names the request in the X-Request-Id header and in error extensions, taking a well-formed one from the client or load balancer', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token', 'x-request-id': 'lb-1234' },
      body: JSON.stringify({ query: Me }),
    });
    expect(res.headers.get('x-request-id')).toBe('lb-1234');
    const body = (await res.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', requestId: 'lb-1234' });

    const own = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token', 'x-request-id': 'bad id with spaces' },
      body: JSON.stringify({ query: Me }),
    });
    const id = own.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const ownBody = (await own.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
    expect(ownBody.errors[0]!.extensions.requestId).toBe(id);
  });
  it('names an unexpected error with its request, in the error and in the log line, over HTTP and over graphql-ws', async () => {
    // Its own app and database: the database is broken underneath it.
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const broken = await startTestApp({}, undefined, logger);
    try {
      const ws = await workspace(broken);
      await broken.app.services.db.$executeRawUnsafe('ALTER TABLE "Conversation" RENAME TO "Conversation_gone"');
      const unexpected = (requestId: unknown) => lines.filter((l) => l.msg === 'unexpected error' && l.requestId === requestId);

      const res = await fetch(`${broken.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ws.admin.token}`, 'x-request-id': 'lb-5678' },
        body: JSON.stringify({ query: Missing, variables: { id: UNKNOWN_ID } }),
      });
      const overHttp = (await res.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
      expect(overHttp.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'lb-5678' } });
      expect(unexpected('lb-5678')).toHaveLength(1);

      const client = createClient({
        url: broken.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${ws.admin.token}` },
        generateID: () => 'op-broken',
      });
      const overWs = await new Promise<{ errors?: Array<{ message: string; extensions: Record<string, unknown> }> }>((resolve, reject) => {
        let result: unknown;
        client.subscribe({ query: Missing, variables: { id: UNKNOWN_ID } }, { next: (r) => (result = r), error: reject, complete: () => resolve(result as never) });
      });
      await client.dispose();
      const requestId = overWs.errors?.[0]?.extensions.requestId;
      expect(overWs.errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      expect(requestId).toMatch(/^[^/]+\/op-broken$/);
      expect(unexpected(requestId)).toHaveLength(1);
    } finally {
      await broken.close();
    }
  });
});

describe('the client side of resume (src/client/resume.ts)', () => {
  function killable(token: string) {
    let socket: WebSocket | null = null;
    const client = createClient({
      url: t.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: () => new Promise((r) => setTimeout(r, 50)),
      connectionParams: { authorization: `Bearer ${token}` },
      on: { connected: (s) => (socket = s as WebSocket) },
    });
    let connects = 0;
    client.on('connected', () => connects++);
    return { client, kill: () => socket?.terminate(), connects: () => connects };
  }

  it('a client killed and reconnected three times during a stream gets every message once, in order; without the helper it gets duplicates', async () => {
    const ws = await workspace(t);
    const id = await room(ws.admin.token, ws.id);
    const TOTAL = 300;
    const helped = killable(ws.admin.token);
    const plain = killable(ws.admin.token);
    const withHelper = seqsOf(resumable(helped.client), id, 0);
    const without = seqsOf(plain.client, id, 0);
    await until(() => t.app.services.pubsub.stats.subscribers >= 2);
    const sending = (async () => {
      for (let i = 1; i <= TOTAL; i++) await gql(t.url, Send, { input: { conversationId: id, body: `r${i}` } }, ws.admin.token);
    })();
    for (const at of [50, 120, 200]) {
      await until(() => withHelper.seqs.length >= at && without.seqs.length >= at, 60_000);
      helped.kill();
      plain.kill();
    }
    await sending;
    await until(() => withHelper.seqs.length >= TOTAL && new Set(without.seqs).size >= TOTAL, 60_000);
    expect(helped.connects()).toBe(4);
    expect(withHelper.errors).toEqual([]);
    expect(withHelper.seqs).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    // graphql-ws alone resubscribes with after: 0 and replays from the start each time.
    expect(without.seqs.length).toBeGreaterThan(TOTAL);
    withHelper.dispose();
    without.dispose();
    await helped.client.dispose();
    await plain.client.dispose();
  }, 120_000);
});

describe('draining', () => {
  it('on stop: /readyz answers 503 on a connection that was open, with Connection: close; new connections are refused; WebSockets get 1001', async () => {
    const d = await startTestApp({ SHUTDOWN_TIMEOUT_MS: '5000' });
    try {
      const ws = await workspace(d);
      const client = d.ws({ token: ws.admin.token });
      const id = await (async () => {
        const res = await gql(d.url, CreateRoom, { input: { workspaceId: ws.id, name: 'drain' } }, ws.admin.token);
        return res.body.data!.createRoom.id as string;
      })();
      const sub = seqsOf(client, id, 0);
      await until(() => d.app.services.pubsub.stats.subscribers >= 1);
      const closeCode = new Promise<number>((resolve) => client.on('closed', (e) => resolve((e as { code: number }).code)));

      // One keep-alive connection, busy with a request whose body is not all sent yet, and a
      // /readyz pipelined behind it: it is read only once the first is answered, i.e. while draining.
      const { connect } = await import('node:net');
      const port = Number(new URL(d.url).port);
      const socket = connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      const socketClosed = new Promise<void>((r) => socket.once('close', () => r()));
      const body = JSON.stringify({ query: '{ __typename }' });
      socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await new Promise((r) => setTimeout(r, 100));

      const stopping = d.app.stop();
      // New connections are refused from now on.
      await until(() => !d.app.server.listening);
      await expect(fetch(`${d.url}/healthz`)).rejects.toThrow();
      socket.write(`${body.slice(5)}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n`);
      await socketClosed;
      const responses = received.split(/(?=HTTP\/1\.1 )/);
      expect(responses).toHaveLength(2);
      expect(responses[0]).toMatch(/^HTTP\/1\.1 200/);
      expect(responses[1]).toMatch(/^HTTP\/1\.1 503/);
      expect(responses[1]).toMatch(/\r\nconnection: close\r\n/i);
      expect(responses[1]).toContain('"server":"failing: shutting down (draining)"');
      expect(await closeCode).toBe(1001);
      await stopping;
      sub.dispose();
    } finally {
      await d.close();
    }
  }, 60_000);
});
