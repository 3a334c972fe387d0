/**
 * Defenses (src/security/): each attack of issue 11, tried against a server the test starts on
 * loopback, bounded in count. Each is refused with its typed error, before it runs: nothing is
 * stored and, where it can be counted, no SQL statement is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestApp, until, type TestApp } from './helpers/app.js';
import { person, workspace } from './helpers/fixtures.js';
import { createTestDatabase, usingRedis } from './helpers/database.js';
import { createExecutor } from '../src/compat/executor.js';

type Result = ExecutionResult<Record<string, unknown>> & { status: number; headers: Headers };

async function post(t: TestApp, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Result> {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as ExecutionResult<Record<string, unknown>>;
  return { ...body, status: res.status, headers: res.headers };
}

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

/** One operation over graphql-ws: its first result, or the error it ended with. */
function wsRun(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<ExecutionResult<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    let first: ExecutionResult<Record<string, unknown>> | undefined;
    client.subscribe<Record<string, unknown>>(
      { query, variables },
      {
        next: (value) => (first ??= value),
        error: (err) => (Array.isArray(err) ? resolve({ errors: err }) : reject(err)),
        complete: () => (first ? resolve(first) : reject(new Error('completed without a result'))),
      },
    );
  });
}

function wsClient(t: TestApp, token?: string, url = t.wsUrl): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
}

const codes = (r: ExecutionResult) => (r.errors ?? []).map((e) => e.extensions?.code);

/** workspace(id) { members { workspace { members { … } } } }, nested n times. */
function nesting(n: number): string {
  let inner = 'id';
  for (let i = 0; i < n; i++) inner = `members { user { id } workspace { ${inner} } }`;
  return `query Nest($id: ID!) { workspace(id: $id) { ${inner} } }`;
}

describe('operation limits (the defaults), on HTTP, graphql-ws and the legacy executor', () => {
  let t: TestApp;
  let ws: Awaited<ReturnType<typeof workspace>>;
  let conversationId: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    ws = await workspace(t, { agent: 'AGENT', client: 'CLIENT' });
    const created = await post(
      t,
      `mutation { createRoom(input: { workspaceId: "${ws.id}", name: "r" }) { __typename ... on Room { id } ... on Error { code message } } }`,
      {},
      bearer(ws.admin.token),
    );
    conversationId = (created.data?.createRoom as { id: string }).id;
    expect(conversationId).toBeTruthy();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await t?.close();
  });

  it('refuses the exponential nesting attack (15 levels) with DEPTH_LIMIT_EXCEEDED before any SQL, on HTTP and graphql-ws', async () => {
    const query = nesting(15);
    const before = t.app.database.stats.statements;
    const res = await post(t, query, { id: ws.id }, bearer(ws.admin.token));
    expect(codes(res)).toEqual(['DEPTH_LIMIT_EXCEEDED']);
    expect(res.errors![0]!.extensions).toMatchObject({ limit: 'depth', max: 12 });
    expect(res.data ?? null).toBeNull();
    expect(res.status).toBe(400);
    // Refused while validating: not even the credential was looked up.
    expect(t.app.database.stats.statements).toBe(before);

    const client = wsClient(t, ws.admin.token);
    clients.push(client);
    const viaWs = await wsRun(client, query, { id: ws.id });
    expect(codes(viaWs)).toEqual(['DEPTH_LIMIT_EXCEEDED']);
    // The socket carries on.
    expect((await wsRun(client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('refuses nesting that stays under the depth limit by its cost (relations count their fan-out)', async () => {
    // Depth 11 (under 12), but 10^5 members' members' … : COST_LIMIT_EXCEEDED.
    const query = `query Fan($id: ID!) { workspace(id: $id) { members { workspace { members { workspace { members { workspace { members { workspace { members { user { id displayName } } } } } } } } } } } }`;
    const res = await post(t, query, { id: ws.id }, bearer(ws.admin.token));
    expect(codes(res)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(res.errors![0]!.extensions).toMatchObject({ limit: 'cost', max: 100_000 });
    expect(res.data ?? null).toBeNull();
    // Three nestings are fine, and answer.
    const small = await post(t, nesting(3), { id: ws.id }, bearer(ws.admin.token));
    expect(small.errors).toBeUndefined();
    expect(small.data?.workspace).toBeTruthy();
  });

  it('counts page sizes in the cost: three aliases of messages(first: 10000) are refused, one of first: 100 runs', async () => {
    const page = (n: number, alias: string) =>
      `${alias}: conversation(id: $id) { ... on Room { messages(first: ${n}) { nodes { id body author { id displayName } } } } }`;
    const big = await post(t, `query Big($id: ID!) { ${['a', 'b', 'c'].map((a) => page(10_000, a)).join(' ')} }`, { id: conversationId }, bearer(ws.admin.token));
    expect(codes(big)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(big.errors![0]!.extensions!.found as number).toBeGreaterThan(100_000);
    const client = wsClient(t, ws.admin.token);
    clients.push(client);
    const viaWs = await wsRun(client, `query Big($id: ID!) { ${['a', 'b', 'c'].map((a) => page(10_000, a)).join(' ')} }`, { id: conversationId });
    expect(codes(viaWs)).toEqual(['COST_LIMIT_EXCEEDED']);
    const ok = await post(t, `query One($id: ID!) { ${page(100, 'a')} }`, { id: conversationId }, bearer(ws.admin.token));
    expect(ok.errors).toBeUndefined();
  });

  it('refuses 2,000 aliases (by their length, TOKEN_LIMIT_EXCEEDED) and 40 (ALIAS_LIMIT_EXCEEDED) on HTTP and graphql-ws; aliased mutations store nothing', async () => {
    const many = (n: number) => `query Many($id: ID!) { ${Array.from({ length: n }, (_, i) => `a${i}: conversation(id: $id) { id }`).join(' ')} }`;
    const res = await post(t, many(2000), { id: conversationId }, bearer(ws.admin.token));
    expect(codes(res)).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    const forty = await post(t, many(40), { id: conversationId }, bearer(ws.admin.token));
    expect(codes(forty)).toEqual(['ALIAS_LIMIT_EXCEEDED']);
    expect(forty.errors![0]!.extensions).toMatchObject({ limit: 'aliases', max: 30, found: 40 });
    const client = wsClient(t, ws.admin.token);
    clients.push(client);
    expect(codes(await wsRun(client, many(2000), { id: conversationId }))).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    expect(codes(await wsRun(client, many(40), { id: conversationId }))).toEqual(['ALIAS_LIMIT_EXCEEDED']);

    const users = await t.app.services.db.user.count();
    const signUps = Array.from(
      { length: 40 },
      (_, i) => `s${i}: signUp(input: { email: "alias-${i}@example.com", password: "password-123", displayName: "x" }) { __typename }`,
    ).join(' ');
    expect(codes(await post(t, `mutation { ${signUps} }`))).toEqual(['ALIAS_LIMIT_EXCEEDED']);
    expect(await t.app.services.db.user.count()).toBe(users);
  });

  it('refuses a flood of `aN: __typename` while parsing (TOKEN_LIMIT_EXCEEDED), and 100 aliased __schema walks', async () => {
    const flood = `{ ${Array.from({ length: 20_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const res = await post(t, flood);
    expect(codes(res)).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    const client = wsClient(t);
    clients.push(client);
    expect(codes(await wsRun(client, flood))).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    const schemas = `{ ${Array.from({ length: 100 }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(' ')} }`;
    expect(codes(await post(t, schemas))).toEqual(['ALIAS_LIMIT_EXCEEDED']);
  });

  it('refuses more than 50 directives with DIRECTIVE_LIMIT_EXCEEDED', async () => {
    const query = `{ ${Array.from({ length: 60 }, () => '__typename @include(if: true)').join(' ')} }`;
    expect(codes(await post(t, query))).toEqual(['DIRECTIVE_LIMIT_EXCEEDED']);
  });

  it('holds the same limits for operations run by the legacy shim’s executor', async () => {
    const executor = createExecutor(t.app.yoga);
    const deep = await executor.run(parse(nesting(15)) as never, { id: ws.id }, { kind: 'bearer', value: ws.admin.token });
    expect(codes(deep)).toEqual(['DEPTH_LIMIT_EXCEEDED']);
    const costly = await executor.run(
      parse(`query Big($id: ID!) { ${['a', 'b', 'c'].map((a) => `${a}: conversation(id: $id) { ... on Room { messages(first: 10000) { nodes { id body author { id } } } } }`).join(' ')} }`) as never,
      { id: conversationId },
      { kind: 'bearer', value: ws.admin.token },
    );
    expect(codes(costly)).toEqual(['COST_LIMIT_EXCEEDED']);
  });

  it('answers NUL bytes and lone surrogates in text input with BAD_USER_INPUT, storing nothing', async () => {
    const send = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { __typename ... on Error { code } } }`;
    const before = await t.app.services.db.message.count();
    for (const body of ['nul \u0000 byte', 'lone \ud800 surrogate', 'lone \udc00 low']) {
      const res = await post(t, send, { input: { conversationId, body } }, bearer(ws.admin.token));
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    }
    // In the document itself too.
    const inline = await post(t, `mutation { sendMessage(input: { conversationId: "${conversationId}", body: "a\\u0000b" }) { __typename } }`, {}, bearer(ws.admin.token));
    expect(codes(inline)).toEqual(['BAD_USER_INPUT']);
    expect(await t.app.services.db.message.count()).toBe(before);
    // A well-formed astral character is fine.
    const ok = await post(t, send, { input: { conversationId, body: 'ok 😀' } }, bearer(ws.admin.token));
    expect(ok.data?.sendMessage).toMatchObject({ __typename: 'Message' });
  });
});
