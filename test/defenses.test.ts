/**
 * Defenses (src/security/): each attack of issue 11, tried against a server the test starts on
 * loopback, bounded in count. Each is refused with its typed error, before it runs: nothing is
 * stored and, where it can be counted, no SQL statement is sent.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, type ExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import pino from 'pino';
import { QUIET_BACKGROUND, startTestApp, until, type TestApp } from './helpers/app.js';
import { person, workspace } from './helpers/fixtures.js';
import { createTestDatabase, usingRedis } from './helpers/database.js';
import { createExecutor } from '../src/compat/executor.js';
import { complexityFromQuery } from '@pothos/plugin-complexity';
import { schema } from '../src/graphql/schema.js';
import { Legacy001AgentInboxDocument, Legacy001ThreadsDocument, Legacy003RoomsDocument } from '../src/compat/generated/graphql.js';
import { loadConfig } from '../src/config/env.js';
import { io as ioClient } from 'socket.io-client';
import { openLegacySocket, startLegacyApp } from './helpers/legacy.js';

/** A GraphQL response as the wire has it (HTTP or graphql-ws). */
type Reply = { data?: Record<string, unknown> | null; errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> };
type Result = Reply & { status: number; headers: Headers };

async function post(t: TestApp, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Result> {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Reply;
  return { ...body, status: res.status, headers: res.headers };
}

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

/** One operation over graphql-ws: its first result, or the error it ended with. */
function wsRun(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let first: Reply | undefined;
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

const codes = (r: Reply | ExecutionResult<unknown>) => (r.errors ?? []).map((e) => e.extensions?.code);

/** The app's chat_rate_limit_refusals_total for one scope (a limit), read from /metrics. */
async function refusalsCounted(t: TestApp, scope: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  return Number(new RegExp(`^chat_rate_limit_refusals_total\\{scope="${scope}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** workspace(id) { members { workspace { members { … } } } }, nested n times. */
function nesting(n: number): string {
  let inner = 'id';
  for (let i = 0; i < n; i++) inner = `members { user { id } workspace { ${inner} } }`;
  return `query Nest($id: ID!) { workspace(id: $id) { ${inner} } }`;
}

describe('operation limits (the defaults), on HTTP, graphql-ws and the legacy executor', { timeout: 120_000 }, () => {
  let t: TestApp;
  let ws: Awaited<ReturnType<typeof workspace>>;
  let conversationId: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    // Refusals are shown to run no SQL: background work that queries on timers stays out.
    t = await startTestApp(QUIET_BACKGROUND);
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

  it('counts page sizes in the cost: pages of pages multiply (three aliases of 100 conversations × 100 messages are refused, one runs)', async () => {
    const pages = (alias: string) =>
      `${alias}: myConversations(first: 100) { nodes { ... on Room { messages(first: 100) { nodes { id body author { id displayName } } } } } }`;
    const query = `query Big { ${['a', 'b', 'c'].map(pages).join(' ')} }`;
    const big = await post(t, query, {}, bearer(ws.admin.token));
    expect(codes(big)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(big.errors![0]!.extensions!.found as number).toBeGreaterThan(100_000);
    const client = wsClient(t, ws.admin.token);
    clients.push(client);
    expect(codes(await wsRun(client, query))).toEqual(['COST_LIMIT_EXCEEDED']);
    // A page is at most 100 whatever `first` says, and costs so: first: 1000000 is not refused.
    const one = await post(t, `query One { ${pages('a')} b: conversation(id: "${conversationId}") { ... on Room { messages(first: 1000000) { nodes { id } } } } }`, {}, bearer(ws.admin.token));
    expect(one.errors).toBeUndefined();
    // One document sent again and again is costed once, unless its page sizes are variables:
    // then each request's own values count (2 pages of 10 runs; the same text with 100 is refused).
    const paged = `query Paged($n: Int) { ${['a', 'b', 'c'].map((alias) => `${alias}: myConversations(first: $n) { nodes { ... on Room { messages(first: $n) { nodes { id body author { id displayName } } } } } }`).join(' ')} }`;
    expect((await post(t, paged, { n: 10 }, bearer(ws.admin.token))).errors).toBeUndefined();
    expect(codes(await post(t, paged, { n: 100 }, bearer(ws.admin.token)))).toEqual(['COST_LIMIT_EXCEEDED']);
    expect((await post(t, paged, { n: 10 }, bearer(ws.admin.token))).errors).toBeUndefined();
    expect(codes(await post(t, query, {}, bearer(ws.admin.token)))).toEqual(['COST_LIMIT_EXCEEDED']);
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

  it('answers an operation over a limit with that refusal alone, without the other rules\' errors (100 aliased __schema with introspection off: one error, not 101)', async () => {
    const closed = await startTestApp({ GRAPHQL_INTROSPECTION: 'false' });
    try {
      const schemas = `{ ${Array.from({ length: 100 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }`;
      expect(codes(await post(closed, schemas))).toEqual(['ALIAS_LIMIT_EXCEEDED']);
      // Under the limit, introspection is still refused field by field.
      const under = codes(await post(closed, '{ a: __schema { types { name } } b: __schema { types { name } } }'));
      expect(under.length).toBeGreaterThanOrEqual(2);
      expect(new Set(under)).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    } finally {
      await closed.close();
    }
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
      parse(`query Big { ${['a', 'b', 'c'].map((a) => `${a}: myConversations(first: 100) { nodes { ... on Room { messages(first: 100) { nodes { id body author { id displayName } } } } } }`).join(' ')} }`) as never,
      {},
      { kind: 'bearer', value: ws.admin.token },
    );
    expect(codes(costly)).toEqual(['COST_LIMIT_EXCEEDED']);
  });

  it('lets the legacy shim’s heaviest operations through with room to spare (under half the default cost)', () => {
    const id = '00000000-0000-0000-0000-000000000000';
    // The page sizes src/compat/legacy-001.ts and legacy-003-sockets.ts ask for.
    const heaviest: Array<[unknown, Record<string, unknown>]> = [
      [Legacy001ThreadsDocument, { workspaceId: id, first: 50, last: 100 }],
      [Legacy001AgentInboxDocument, { workspaceId: id, threadType: null, first: 50, last: 20 }],
      [Legacy003RoomsDocument, { workspaceId: id, adminId: id, first: 100, history: 50 }],
    ];
    for (const [document, variables] of heaviest) {
      const { complexity, depth } = complexityFromQuery(document as never, { schema, variables, ctx: {} });
      expect(complexity).toBeLessThan(t.app.config.GRAPHQL_MAX_COST / 2);
      expect(depth).toBeLessThan(t.app.config.GRAPHQL_MAX_DEPTH);
    }
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

const LOGIN = `mutation LogIn($email: String!, $password: String!) { logIn(input: { email: $email, password: $password }) { __typename ... on Error { code } } }`;

/** `n` aliased logIn attempts in one operation. */
function aliasedLogIns(n: number, email: string): string {
  return `mutation { ${Array.from({ length: n }, (_, i) => `l${i}: logIn(input: { email: "${email}", password: "wrong-${i}" }) { __typename ... on Error { code } }`).join(' ')} }`;
}

/** Outcomes of one logIn response: each alias's result, or the whole operation refused. */
function loginOutcomes(res: Result, attempts: number): { checked: number; refused: number } {
  if (codes(res).includes('RATE_LIMITED')) return { checked: 0, refused: attempts };
  const values = Object.values(res.data ?? {}) as Array<{ __typename: string; code?: string }>;
  return { checked: values.filter((v) => v.code === 'INVALID_CREDENTIALS').length, refused: 0 };
}

describe('rate limits', { timeout: 120_000 }, () => {
  it('slows 1,000 wrong passwords for one account from one address (requests and aliases mixed) to the configured rate; the owner logs in from another address after the window', async () => {
    const t = await startTestApp({
      TRUST_PROXY: 'true',
      RATE_LIMIT_LOGIN_ACCOUNT: '10/2',
      RATE_LIMIT_LOGIN_ADDRESS: '30/600',
    });
    try {
      const owner = await person(t, 'owner');
      let checked = 0;
      let refused = 0;
      let sent = 0;
      let retryAfter: string | null = null;
      // 1,000 attempts: 20 single requests, then 40 requests of 24 aliased attempts, then 20 single.
      const plan = [...Array<number>(20).fill(1), ...Array<number>(40).fill(24), ...Array<number>(20).fill(1)];
      expect(plan.reduce((a, b) => a + b, 0)).toBe(1000);
      for (const n of plan) {
        const res = n === 1 ? await post(t, LOGIN, { email: owner.email, password: `wrong-${sent}` }) : await post(t, aliasedLogIns(n, owner.email));
        sent += n;
        const outcome = loginOutcomes(res, n);
        checked += outcome.checked;
        refused += outcome.refused;
        if (outcome.refused) {
          expect(res.status).toBe(429);
          expect(res.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
          expect(res.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
          retryAfter ??= res.headers.get('retry-after');
        }
      }
      expect(checked + refused).toBe(1000);
      // The address may try 30 times in its 10-minute window, whatever the account's window: at
      // most 30 of 1,000 passwords were ever checked, and at least the account's first 10.
      expect(checked).toBeGreaterThanOrEqual(10);
      expect(checked).toBeLessThanOrEqual(30);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);

      // From the attacker's address even the right password is refused now…
      const fromAttacker = await post(t, LOGIN, { email: owner.email, password: 'password-123' });
      expect(codes(fromAttacker)).toEqual(['RATE_LIMITED']);
      // …while the owner, from another address, gets in once the account's window has passed,
      // trying again when Retry-After says (as a well-behaved client does: every attempt counts).
      const elsewhere = { 'x-forwarded-for': '203.0.113.7' };
      let owned = await post(t, LOGIN, { email: owner.email, password: 'password-123' }, elsewhere);
      for (let attempt = 0; attempt < 5 && codes(owned).includes('RATE_LIMITED'); attempt++) {
        await new Promise((r) => setTimeout(r, Number(owned.headers.get('retry-after')) * 1000));
        owned = await post(t, LOGIN, { email: owner.email, password: 'password-123' }, elsewhere);
      }
      expect(owned.data?.logIn).toMatchObject({ __typename: 'AuthPayload' });
    } finally {
      await t.close();
    }
  });

  it('counts an account’s attempts whichever field names it (`login` as the legacy shim sends it, or `email`), from any address', async () => {
    const t = await startTestApp({ TRUST_PROXY: 'true', RATE_LIMIT_LOGIN_ACCOUNT: '5/600', RATE_LIMIT_LOGIN_ADDRESS: '1000/600' });
    try {
      const owner = await person(t, 'login-field');
      const byLogin = `mutation LogInBy($login: String!, $password: String!) { logIn(input: { login: $login, password: $password }) { __typename ... on Error { code } } }`;
      const outcomes: string[] = [];
      for (let i = 0; i < 12; i++) {
        // A new address each time: only the per-account limit can stop this.
        const from = { 'x-forwarded-for': `198.51.100.${i + 1}` };
        const res =
          i % 2 === 0
            ? await post(t, byLogin, { login: owner.email.toUpperCase(), password: `wrong-${i}` }, from)
            : await post(t, LOGIN, { email: owner.email, password: `wrong-${i}` }, from);
        outcomes.push(String(codes(res)[0] ?? (res.data?.logIn as { code?: string } | undefined)?.code ?? ''));
      }
      expect(outcomes.filter((c) => c === 'INVALID_CREDENTIALS')).toHaveLength(5);
      expect(outcomes.slice(5)).toEqual(Array(7).fill('RATE_LIMITED'));
    } finally {
      await t.close();
    }
  });

  it.runIf(usingRedis)('holds a limit across two instances sharing Redis', async () => {
    const db = await createTestDatabase();
    const env = { RATE_LIMIT_KEY_PREFIX: `test-rl-shared-${process.pid}-${Date.now()}`, RATE_LIMIT_LOGIN_ADDRESS: '12/600', RATE_LIMIT_LOGIN_ACCOUNT: '1000/600' };
    const a = await startTestApp(env, db);
    const b = await startTestApp(env, db);
    try {
      let checked = 0;
      for (let i = 0; i < 30; i++) {
        const res = await post(i % 2 ? b : a, LOGIN, { email: 'nobody@example.com', password: `wrong-${i}` });
        checked += loginOutcomes(res, 1).checked;
      }
      // 12 between them, not 12 each.
      expect(checked).toBe(12);
    } finally {
      await a.stop();
      await b.close();
    }
  });

  it.runIf(usingRedis)('spends a Redis counter far from its limit without waiting for Redis, counts every point there, and waits for its answer near the limit', async () => {
    const prefix = `test-rl-known-${process.pid}-${Date.now()}`;
    const t = await startTestApp({ RATE_LIMIT_SEND_USER: '20/600', RATE_LIMIT_KEY_PREFIX: prefix });
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const limits = t.app.services.defenses.rateLimits;
      // Nothing known of the counter yet: the first attempt waits for Redis.
      const first = limits.consume('RATE_LIMIT_SEND_USER', 'known-user');
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBeNull();
      const answers = Array.from({ length: 25 }, () => limits.consume('RATE_LIMIT_SEND_USER', 'known-user'));
      // 19 left: answered at once while more than a tenth of the limit (2) would remain after
      // the attempts not yet answered, i.e. 17 of them; the rest wait for Redis, which refuses.
      const immediate = answers.filter((answer) => !(answer instanceof Promise));
      expect(immediate).toEqual(Array(17).fill(null));
      const settled = await Promise.all(answers);
      expect(settled.filter((answer) => answer === null)).toHaveLength(19);
      expect(settled.filter((answer) => answer?.kind === 'rate')).toHaveLength(6);
      // Every attempt was counted in Redis, the refused included (rate-limiter-flexible's counter).
      expect(Number(await redis.get(`${prefix}:RATE_LIMIT_SEND_USER:known-user`))).toBe(26);
      // Another counter is known separately.
      expect(limits.consume('RATE_LIMIT_SEND_USER', 'other-user')).toBeInstanceOf(Promise);
    } finally {
      redis.disconnect();
      await t.close();
    }
  });

  it('limits signUp and startGuestSession per address (aliases count); refused calls store nothing', async () => {
    const t = await startTestApp({ RATE_LIMIT_SIGNUP_ADDRESS: '5/600', RATE_LIMIT_GUEST_ADDRESS: '10/600' });
    try {
      const ws = await workspace(t); // one sign-up
      const before = await t.app.services.db.user.count();
      const results: Result[] = [];
      for (let i = 0; i < 8; i++) {
        results.push(
          await post(t, `mutation { signUp(input: { email: "su-${i}-${Date.now()}@example.com", password: "password-123", displayName: "x" }) { __typename } }`),
        );
      }
      expect(results.filter((r) => (r.data?.signUp as { __typename: string } | undefined)?.__typename === 'AuthPayload')).toHaveLength(4);
      expect(results.filter((r) => codes(r).includes('RATE_LIMITED') && r.status === 429)).toHaveLength(4);
      expect(await t.app.services.db.user.count()).toBe(before + 4);

      // One anonymous request with 25 aliased guest sessions: refused whole, no guest created.
      const guests = Array.from({ length: 25 }, (_, i) => `g${i}: startGuestSession(input: { workspaceId: "${ws.id}" }) { __typename }`).join(' ');
      const flood = await post(t, `mutation { ${guests} }`);
      expect(codes(flood)).toEqual(['RATE_LIMITED']);
      expect(await t.app.services.db.user.count()).toBe(before + 4);
    } finally {
      await t.close();
    }
  });

  it('limits sendMessage per user over graphql-ws: the rest are refused one by one, nothing stored, the socket carries on', async () => {
    const t = await startTestApp({ RATE_LIMIT_SEND_USER: '15/600' });
    try {
      const ws = await workspace(t);
      const created = await post(t, `mutation { createRoom(input: { workspaceId: "${ws.id}", name: "r" }) { ... on Room { id } } }`, {}, bearer(ws.admin.token));
      const conversationId = (created.data?.createRoom as { id: string }).id;
      const client = wsClient(t, ws.admin.token);
      const send = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { __typename } }`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => wsRun(client, send, { input: { conversationId, body: `m${i}` } })),
      );
      expect(results.filter((r) => (r.data?.sendMessage as { __typename: string } | undefined)?.__typename === 'Message')).toHaveLength(15);
      const refused = results.filter((r) => codes(r).includes('RATE_LIMITED'));
      expect(refused).toHaveLength(25);
      expect(refused[0]!.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
      expect(await t.app.services.db.message.count({ where: { conversationId, kind: 'TEXT' } })).toBe(15);
      expect((await wsRun(client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
      await client.dispose();
    } finally {
      await t.close();
    }
  });

  it('limits operations over HTTP per user and, signed out, per address (RATE_LIMIT_HTTP_OPERATIONS); graphql-ws, another user and the legacy executor are not held', async () => {
    const t = await startTestApp({ RATE_LIMIT_HTTP_OPERATIONS: '8/600' });
    try {
      // Two sign-ups: the address's first two.
      const a = await person(t, 'http-a');
      const b = await person(t, 'http-b');
      const me = '{ me { id } }';
      const asA = [];
      for (let i = 0; i < 10; i++) asA.push(await post(t, me, {}, bearer(a.token)));
      expect(asA.slice(0, 8).map((r) => (r.data?.me as { id: string } | undefined)?.id)).toEqual(Array.from({ length: 8 }, () => a.id));
      for (const refused of asA.slice(8)) {
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(refused.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'RATE_LIMIT_HTTP_OPERATIONS' });
      }
      // A refused mutation does nothing.
      const workspaces = await t.app.services.db.workspace.count();
      expect(codes(await post(t, 'mutation { createWorkspace(input: { name: "late" }) { __typename } }', {}, bearer(a.token)))).toEqual(['RATE_LIMITED']);
      expect(await t.app.services.db.workspace.count()).toBe(workspaces);

      // Over graphql-ws the same user goes on (bounded there per connection and per user); another user has their own count.
      const client = wsClient(t, a.token);
      expect((await wsRun(client, me)).data).toEqual({ me: { id: a.id } });
      await client.dispose();
      expect((await post(t, me, {}, bearer(b.token))).data).toEqual({ me: { id: b.id } });

      // Signed out, the address counts: six left after the two sign-ups.
      const anonymous = [];
      for (let i = 0; i < 8; i++) anonymous.push(await post(t, '{ __typename }'));
      expect(anonymous.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
      // The legacy shim's executor is bounded by the legacy limits instead.
      const shim = await createExecutor(t.app.yoga).run(parse('query ShimHttpLimit { __typename }') as never, {}, { kind: 'none' });
      expect(shim.data).toEqual({ __typename: 'Query' });
    } finally {
      await t.close();
    }
  });

  it('limits every mutation per user on HTTP and graphql-ws together (RATE_LIMIT_MUTATIONS_USER); refused edits change nothing; another user and an API key are not held', async () => {
    const t = await startTestApp({ RATE_LIMIT_MUTATIONS_USER: '10/600' });
    try {
      // The admin's own mutations count from the first: createWorkspace, createRoom, sendMessage, issueApiKey.
      const ws = await workspace(t);
      const token = ws.admin.token;
      const created = await post(t, `mutation { createRoom(input: { workspaceId: "${ws.id}", name: "r" }) { ... on Room { id } } }`, {}, bearer(token));
      const conversationId = (created.data?.createRoom as { id: string }).id;
      const sent = await post(t, 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { ... on Message { id } } }', { input: { conversationId, body: 'v0' } }, bearer(token));
      const id = (sent.data?.sendMessage as { id: string }).id;
      const key = await post(
        t,
        'mutation($input: IssueApiKeyInput!) { issueApiKey(input: $input) { ... on IssuedApiKey { secret } } }',
        { input: { workspaceId: ws.id, name: 'backend' } },
        bearer(token),
      );
      const secret = (key.data?.issueApiKey as { secret: string }).secret;

      // Six left: 16 edits, half over HTTP and half over graphql-ws, each with its own text.
      const edit = 'mutation($id: ID!, $body: String!) { editMessage(id: $id, body: $body) { __typename } }';
      const client = wsClient(t, token);
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? wsRun(client, edit, { id, body: `v${i + 1}` }) : post(t, edit, { id, body: `v${i + 1}` }, bearer(token)))),
      );
      const applied = results.flatMap((r, i) => ((r.data?.editMessage as { __typename: string } | undefined)?.__typename === 'Message' ? [`v${i + 1}`] : []));
      const refused = results.filter((r) => codes(r).includes('RATE_LIMITED'));
      expect(applied).toHaveLength(6);
      expect(refused).toHaveLength(10);
      expect(refused[0]!.errors![0]!.extensions).toMatchObject({ limit: 'RATE_LIMIT_MUTATIONS_USER' });
      expect(applied).toContain((await t.app.services.db.message.findUniqueOrThrow({ where: { id } })).body);
      await client.dispose();

      // Another user has their own count; an API key is not counted by it.
      const other = await person(t, 'other');
      expect(codes(await post(t, 'mutation { createWorkspace(input: { name: "mine" }) { __typename } }', {}, bearer(other.token)))).toEqual([]);
      for (let i = 0; i < 12; i++) {
        const byKey = await post(t, `mutation { createRoom(input: { workspaceId: "${ws.id}", name: "k${i}" }) { __typename } }`, {}, bearer(secret));
        expect(byKey.data?.createRoom).toEqual({ __typename: 'Room' });
      }
    } finally {
      await t.close();
    }
  });

  it('counts sendThreadMessage and sendCannedReply as sends (RATE_LIMIT_SEND_USER), storing nothing once spent', async () => {
    const t = await startTestApp({ RATE_LIMIT_SEND_USER: '3/600' });
    try {
      const ws = await workspace(t, { agent: 'AGENT', client: 'CLIENT' });
      const send = 'mutation($input: SendThreadMessageInput!) { sendThreadMessage(input: $input) { __typename } }';
      const client = ws.people.client!;
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await post(t, send, { input: { workspaceId: ws.id, threadType: 'support', body: `t${i}` } }, bearer(client.token)));
      expect(results.map((r) => codes(r)[0] ?? (r.data?.sendThreadMessage as { __typename: string }).__typename)).toEqual([
        'ThreadMessageSent', 'ThreadMessageSent', 'ThreadMessageSent', 'RATE_LIMITED', 'RATE_LIMITED',
      ]);
      expect(await t.app.services.db.message.count({ where: { authorId: client.id } })).toBe(3);

      // The admin's own count: a canned reply sent into a room.
      const created = await post(t, `mutation { createRoom(input: { workspaceId: "${ws.id}", name: "r" }) { ... on Room { id } } }`, {}, bearer(ws.admin.token));
      const conversationId = (created.data?.createRoom as { id: string }).id;
      const canned = await post(
        t,
        'mutation($input: CreateCannedReplyInput!) { createCannedReply(input: $input) { __typename } }',
        { input: { workspaceId: ws.id, shortCode: 'hi', title: 'Hi', body: 'Hello!' } },
        bearer(ws.admin.token),
      );
      expect(canned.data?.createCannedReply).toEqual({ __typename: 'CannedReply' });
      const reply = 'mutation($input: SendCannedReplyInput!) { sendCannedReply(input: $input) { __typename } }';
      const replies = [];
      for (let i = 0; i < 5; i++) replies.push(await post(t, reply, { input: { conversationId, shortCode: 'hi' } }, bearer(ws.admin.token)));
      expect(replies.map((r) => codes(r)[0] ?? (r.data?.sendCannedReply as { __typename: string }).__typename)).toEqual([
        'Message', 'Message', 'Message', 'RATE_LIMITED', 'RATE_LIMITED',
      ]);
      expect(await t.app.services.db.message.count({ where: { conversationId, kind: 'TEXT' } })).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('caps operations running on one graphql-ws connection (TOO_MANY_OPERATIONS), and frees a slot when one ends', async () => {
    const t = await startTestApp({ WS_MAX_SUBSCRIPTIONS: '3' });
    try {
      const ws = await workspace(t);
      const client = wsClient(t, ws.admin.token);
      const subscription = `subscription { inboxEvents { __typename } }`;
      const received: Array<unknown[]> = [];
      const disposers = Array.from({ length: 3 }, () => {
        const got: unknown[] = [];
        received.push(got);
        return client.subscribe({ query: subscription }, { next: (v) => got.push(v), error: () => undefined, complete: () => undefined });
      });
      await until(() => received.every((r) => r.length > 0));
      const fourth = await wsRun(client, subscription);
      expect(codes(fourth)).toEqual(['TOO_MANY_OPERATIONS']);
      disposers[0]!();
      await until(async () => codes(await wsRun(client, '{ __typename }')).length === 0);
      disposers.slice(1).forEach((d) => d());
      await client.dispose();
    } finally {
      await t.close();
    }
  });

  it('runs a connection’s queries and mutations WS_MAX_CONCURRENT_EXECUTIONS at a time, in the order sent', async () => {
    // One at a time: a quick `{ __typename }` sent after a slow logIn (password hashes to check)
    // answers after it; with two at a time it overtakes it. Either way, nothing is refused.
    const order = async (concurrency: string): Promise<string[]> => {
      const t = await startTestApp({ WS_MAX_CONCURRENT_EXECUTIONS: concurrency });
      try {
        const owner = await person(t, `turns-${concurrency}`);
        const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
        await new Promise((r) => socket.once('open', r));
        const answered: string[] = [];
        const done = new Promise<void>((resolve) =>
          socket.on('message', (raw) => {
            const message = JSON.parse(String(raw)) as { type: string; id?: string };
            if (message.type === 'next') answered.push(message.id!);
            if (answered.length === 2) resolve();
          }),
        );
        socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
        await new Promise((r) => socket.once('message', r));
        // Five password checks, one after another (a mutation's fields run in turn): ~150 ms, a
        // margin no busy machine's turn of the event loop comes near (one check alone lost the
        // race once, the whole suite running).
        const checks = Array.from({ length: 5 }, (_, i) => `l${i}: logIn(input: { email: "${owner.email}", password: "not-the-password" }) { __typename }`);
        const logIn = `mutation { ${checks.join(' ')} }`;
        socket.send(JSON.stringify({ id: 'slow', type: 'subscribe', payload: { query: logIn } }));
        socket.send(JSON.stringify({ id: 'quick', type: 'subscribe', payload: { query: '{ __typename }' } }));
        await done;
        socket.close();
        return answered;
      } finally {
        await t.close();
      }
    };
    expect(await order('1')).toEqual(['slow', 'quick']);
    expect(await order('2')).toEqual(['quick', 'slow']);
  });

  it('closes a graphql-ws connection that starts operations faster than WS_MAX_OPERATIONS with 4429', async () => {
    const t = await startTestApp({ WS_MAX_OPERATIONS: '5/600' });
    try {
      const me = await person(t);
      const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      const answers: string[] = [];
      socket.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; id?: string };
        if (msg.type === 'connection_ack') {
          for (let i = 1; i <= 10; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: '{ __typename }' } }));
        } else if (msg.type === 'next') answers.push(msg.id!);
      });
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${me.token}` } })));
      expect(await closed).toBe(4429);
      expect(answers.length).toBeLessThanOrEqual(5);
    } finally {
      await t.close();
    }
  });

  it('counts WS_MAX_OPERATIONS_PER_USER over all of a user\'s connections: a flooder closed with 4429 is refused at connection_init when it reconnects, before any operation; another user is not', async () => {
    const t = await startTestApp({ WS_MAX_OPERATIONS_PER_USER: '6/600' });
    try {
      const [flooder, other] = [await person(t), await person(t)];
      /** One connection: sends `operations` { __typename } once acknowledged; how it ended. */
      const connect = (token: string, operations: number) =>
        new Promise<{ acked: boolean; answers: number; code: number; reason: string }>((resolve) => {
          const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
          const seen = { acked: false, answers: 0 };
          socket.on('message', (data) => {
            const msg = JSON.parse(String(data)) as { type: string };
            if (msg.type === 'connection_ack') {
              seen.acked = true;
              for (let i = 1; i <= operations; i++) socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: '{ __typename }' } }));
              // A well-behaved connection that stayed under the budget says goodbye itself.
              setTimeout(() => socket.close(1000), 500);
            } else if (msg.type === 'next') seen.answers++;
          });
          socket.once('close', (code, reason) => resolve({ ...seen, code, reason: String(reason) }));
          socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
        });
      // Two connections of 4 each: the second spends the user's 6 and is closed.
      expect(await connect(flooder.token, 4)).toMatchObject({ acked: true, answers: 4, code: 1000 });
      const second = await connect(flooder.token, 4);
      expect(second).toMatchObject({ acked: true, code: 4429 });
      expect(second.answers).toBeLessThanOrEqual(2);
      expect(second.reason).toContain('WS_MAX_OPERATIONS_PER_USER');
      // Reconnecting buys nothing: refused at connection_init, never acknowledged.
      expect(await connect(flooder.token, 4)).toMatchObject({ acked: false, answers: 0, code: 4429 });
      // Someone else's budget is their own.
      expect(await connect(other.token, 4)).toMatchObject({ acked: true, answers: 4, code: 1000 });
    } finally {
      await t.close();
    }
  });

  it('refuses an address opening WebSockets faster than WS_UPGRADES_PER_ADDRESS: 429 with Retry-After at the upgrade, before any handshake; closing them does not help', async () => {
    const t = await startTestApp({ WS_UPGRADES_PER_ADDRESS: '4/600' });
    try {
      const open = (): Promise<{ socket?: WebSocket; status?: number; retryAfter?: string }> =>
        new Promise((resolve) => {
          const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
          socket.once('open', () => resolve({ socket }));
          socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }));
          socket.on('error', () => undefined);
        });
      for (let i = 0; i < 4; i++) {
        const { socket } = await open();
        expect(socket).toBeDefined();
        // Closed at once: what counts is how fast they are opened, not how many are held.
        socket!.close();
      }
      const refused = await open();
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      // Legacy WebSockets share the budget (the same check runs for every WebSocket path).
      const legacy = await new Promise<number>((resolve) => {
        const socket = new WebSocket(`${t.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
        socket.once('open', () => resolve(101));
        socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        socket.on('error', () => undefined);
      });
      expect(legacy).toBe(429);
      // Plain HTTP from the address is not affected.
      expect((await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('caps open WebSockets per address (429 at the upgrade) and per user (close 4429)', async () => {
    const t = await startTestApp({ WS_MAX_CONNECTIONS_PER_ADDRESS: '3', WS_MAX_CONNECTIONS_PER_USER: '2' });
    try {
      const me = await person(t);
      const open = (): Promise<WebSocket> =>
        new Promise((resolve, reject) => {
          const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
          socket.once('open', () => resolve(socket));
          socket.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
          socket.once('error', reject);
        });
      const sockets = [await open(), await open(), await open()];
      await expect(open()).rejects.toThrow('status 429');
      sockets.pop()!.close();
      await until(async () => {
        try {
          sockets.push(await open());
          return true;
        } catch {
          return false;
        }
      });
      sockets.forEach((s) => s.close());

      // Per user: a third graphql-ws connection of the same user is closed with 4429.
      await until(async () => {
        try {
          const probe = await open();
          probe.close();
          return true;
        } catch {
          return false;
        }
      });
      // Two connections held open by a subscription each (lazy clients close when idle).
      const a = wsClient(t, me.token);
      const b = wsClient(t, me.token);
      const held: unknown[] = [];
      for (const client of [a, b]) {
        client.subscribe({ query: 'subscription { inboxEvents { __typename } }' }, { next: (v) => held.push(v), error: () => undefined, complete: () => undefined });
      }
      await until(() => held.length >= 2);
      const c = wsClient(t, me.token);
      const closed = await wsRun(c, '{ __typename }').then(
        () => null,
        (err: { code?: number }) => err.code,
      );
      expect(closed).toBe(4429);
      await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
    } finally {
      await t.close();
    }
  });
});

describe('the legacy shim', { timeout: 120_000 }, () => {
  it('answers malformed paths, queries and bodies with its legacy 400, and throttles an address with 429', async () => {
    const t = await startTestApp({ RATE_LIMIT_LEGACY_ADDRESS: '8/600' });
    try {
      const get = (path: string, init?: RequestInit) => fetch(`${t.url}${path}`, init);
      const bad = await get('/send/%/');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ detail: 'Malformed request path or query.' });
      const badEscape = await get('/send_message/%E0%A4%A/');
      expect(badEscape.status).toBe(400);
      const badJson = await get('/chat-app/send-message', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"x":' });
      expect(badJson.status).toBe(400);
      expect(((await badJson.json()) as { detail: string }).detail).toMatch(/JSON/);
      const badMultipart = await get('/chat-app/user', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\nbroken' });
      expect(badMultipart.status).toBe(400);
      // Four so far; four more pass the throttle, the ninth is refused as DRF would.
      for (let i = 0; i < 4; i++) expect((await get('/send/%/')).status).toBe(400);
      const throttled = await get('/send/%/');
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await throttled.json()) as { detail: string }).detail).toMatch(/^Request was throttled\. Expected available in \d+ seconds\.$/);
    } finally {
      await t.close();
    }
  });
});

describe('production posture', { timeout: 120_000 }, () => {
  it('requires CORS origins in production, and * is refused there', () => {
    const base = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) };
    expect(() => loadConfig(base)).toThrow(/CORS_ORIGINS: required when NODE_ENV=production/);
    expect(() => loadConfig({ ...base, CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
    const config = loadConfig({ ...base, CORS_ORIGINS: 'https://app.example.com' });
    expect(config).toMatchObject({ GRAPHIQL: false, GRAPHQL_INTROSPECTION: false, GRAPHQL_SUGGESTIONS: false });
    expect(loadConfig({ ...base, CORS_ORIGINS: 'https://app.example.com', GRAPHQL_INTROSPECTION: 'true' }).GRAPHQL_INTROSPECTION).toBe(true);
    expect(loadConfig({})).toMatchObject({ GRAPHIQL: true, GRAPHQL_INTROSPECTION: true, GRAPHQL_SUGGESTIONS: true });
  });

  it('in production: no introspection, no suggestions, no GraphiQL, CORS only for the named origins', async () => {
    const t = await startTestApp({ NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.com' });
    try {
      const introspection = await post(t, '{ __schema { types { name } } }');
      expect(introspection.data ?? null).toBeNull();
      expect(introspection.errors![0]!.message).toMatch(/introspection/i);
      const typo = await post(t, '{ mee { id } }');
      expect(typo.errors![0]!.message).not.toMatch(/Did you mean/);
      expect(typo.errors![0]!.message).toMatch(/Cannot query field "mee"/);
      const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
      const preflight = (origin: string) =>
        fetch(`${t.url}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
      expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).not.toBe('*');
      expect((await preflight('https://app.example.com')).headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      // What clients need still works.
      expect((await post(t, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    } finally {
      await t.close();
    }
  });

  it('in development, introspection and suggestions stay on', async () => {
    const dev = await startTestApp();
    try {
      expect((await post(dev, '{ __schema { queryType { name } } }')).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect((await post(dev, '{ mee { id } }')).errors![0]!.message).toMatch(/Did you mean "me"/);
    } finally {
      await dev.close();
    }
  });

  it('revokes a refresh token’s whole family when a used one is presented again', async () => {
    const t = await startTestApp();
    try {
      const owner = await person(t, 'family');
      const login = await post(t, LOGIN.replace('__typename', '__typename ... on AuthPayload { refreshToken }'), { email: owner.email, password: 'password-123' });
      const first = (login.data?.logIn as { refreshToken: string }).refreshToken;
      const REFRESH = `mutation R($t: String!) { refreshSession(refreshToken: $t) { __typename ... on AuthPayload { refreshToken } ... on Error { code } } }`;
      const renewed = await post(t, REFRESH, { t: first });
      const second = (renewed.data?.refreshSession as { refreshToken: string }).refreshToken;
      expect(second).toBeTruthy();
      // Another sign-in of the same user: a family of its own, untouched.
      const other = await post(t, LOGIN.replace('__typename', '__typename ... on AuthPayload { refreshToken }'), { email: owner.email, password: 'password-123' });
      const otherToken = (other.data?.logIn as { refreshToken: string }).refreshToken;
      // The first token again (a thief, or the client after the thief): refused, and the second dies with it.
      expect(await post(t, REFRESH, { t: first }).then((r) => (r.data?.refreshSession as { code: string }).code)).toBe('UNAUTHENTICATED');
      expect(await post(t, REFRESH, { t: second }).then((r) => (r.data?.refreshSession as { code: string }).code)).toBe('UNAUTHENTICATED');
      expect(await post(t, REFRESH, { t: otherToken }).then((r) => (r.data?.refreshSession as { __typename: string }).__typename)).toBe('AuthPayload');
    } finally {
      await t.close();
    }
  });
});

describe('the legacy shim’s sockets', { timeout: 120_000 }, () => {
  it('throttles Socket.IO events per identity with the legacy error reply; the socket carries on', async () => {
    const t = await startTestApp({ RATE_LIMIT_LEGACY_IDENTITY: '5/600' });
    const socket = ioClient(t.url, { path: '/socket.io', transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const replies: Array<{ status: string; data?: unknown }> = [];
      for (let i = 0; i < 8; i++) replies.push((await socket.emitWithAck('get_all_topics', {})) as { status: string; data?: unknown });
      const throttled = replies.filter((r) => /^Request was throttled\. Expected available in \d+ seconds\.$/.test(String(r.data)));
      expect(throttled).toHaveLength(3);
      // The first five were served (their answer is whatever the event gives on this server).
      expect(replies.slice(0, 5).some((r) => /throttled/.test(JSON.stringify(r)))).toBe(false);
      expect(socket.connected).toBe(true);
    } finally {
      socket.close();
      await t.close();
    }
  });

  it('throttles raw legacy socket frames per identity with the protocol’s error frame', async () => {
    const t = await startTestApp({ RATE_LIMIT_LEGACY_IDENTITY: '5/600' });
    try {
      const { admin } = await workspace(t);
      const socket = await openLegacySocket(`${t.url.replace('http', 'ws')}/ws/chat/room/?token=${admin.token}`);
      for (let i = 0; i < 8; i++) socket.send({ action: 'no_such_action' });
      let throttled = 0;
      while (throttled < 3) {
        const frame = await socket.next();
        if (/^Request was throttled/.test(String(frame.message))) throttled += 1;
      }
      expect(throttled).toBe(3);
      expect(socket.socket.readyState).toBe(WebSocket.OPEN);
      socket.close();
    } finally {
      await t.close();
    }
  });
});

describe('what the legacy shim runs for a client counts against that client’s address', { timeout: 120_000 }, () => {
  // Each client's address is its own X-Forwarded-For (TRUST_PROXY): every test connection comes
  // from 127.0.0.1, so an operation counted under the shim's (or the socket's) address, or under
  // none, would show here as a second client refused, or a first one never refused.
  const A = '198.51.100.21';
  const B = '198.51.100.22';
  const from = (address: string) => ({ 'x-forwarded-for': address });

  it('a legacy REST call: its logIn spends its client’s RATE_LIMIT_LOGIN_ADDRESS, the one GraphQL clients at that address spend', async () => {
    const t = await startTestApp({ TRUST_PROXY: 'true', RATE_LIMIT_LOGIN_ADDRESS: '3/600' });
    try {
      const owner = await person(t, 'legacy-login');
      const login = (password: string, address: string) =>
        fetch(`${t.url}/accounts/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...from(address) },
          body: JSON.stringify({ username: owner.email, password }),
        });
      for (let i = 0; i < 3; i++) expect((await login(`wrong-${i}`, A)).status).toBe(401);
      // A's three attempts are spent: even the right password is refused from there, through
      // the shim (legacy 003 answers any failed sign-in 401) and over GraphQL alike…
      expect((await login('password-123', A)).status).toBe(401);
      expect(codes(await post(t, LOGIN, { email: owner.email, password: 'password-123' }, from(A)))).toEqual(['RATE_LIMITED']);
      // …while the same call from another address signs in.
      const elsewhere = await login('password-123', B);
      expect(elsewhere.status).toBe(200);
      expect(await elsewhere.json()).toMatchObject({ user_id: owner.id });
    } finally {
      await t.close();
    }
  });

  it('a legacy raw-socket frame and a Socket.IO event: the guest sessions they start spend their client’s RATE_LIMIT_GUEST_ADDRESS', async () => {
    const L = await startLegacyApp({ TRUST_PROXY: 'true', RATE_LIMIT_GUEST_ADDRESS: '2/600' });
    const sockets: Array<{ close(): void }> = [];
    try {
      const { t } = L;
      // Legacy 003's room socket: `new_room` signs its consumer in as a guest (startGuestSession).
      const roomSocket = async (address: string) => {
        const socket = await openLegacySocket(`${t.url.replace('http', 'ws')}/ws/room/${encodeURIComponent(L.admin.email)}`, from(address));
        sockets.push(socket);
        return socket;
      };
      const fromA = await roomSocket(A);
      for (const consumer of ['visitor-a1', 'visitor-a2']) {
        fromA.send({ command: 'new_room', consumer });
        expect(await fromA.next()).toMatchObject({ command: 'new_room', room: { consumer } });
      }
      // A's two guest sessions are spent: the third consumer cannot be signed in (the legacy
      // error frame), nor can A start one over GraphQL; B's socket still can.
      fromA.send({ command: 'new_room', consumer: 'visitor-a3' });
      expect(await fromA.next()).toMatchObject({ command: 'error' });
      const guestFromA = await post(t, `mutation { startGuestSession(input: { workspaceId: "${L.workspaceId}" }) { __typename } }`, {}, from(A));
      expect(codes(guestFromA)).toEqual(['RATE_LIMITED']);
      const fromB = await roomSocket(B);
      fromB.send({ command: 'new_room', consumer: 'visitor-b1' });
      expect(await fromB.next()).toMatchObject({ command: 'new_room', room: { consumer: 'visitor-b1' } });

      // Legacy 002 (Socket.IO): a message by a new `author` signs that name in as a guest.
      const C = '198.51.100.23';
      const D = '198.51.100.24';
      const ioSocket = async (address: string) => {
        const socket = ioClient(t.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, extraHeaders: from(address) });
        sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        expect(await socket.emitWithAck('join', { room: 'lobby' })).toMatchObject({ status: 'success' });
        return socket;
      };
      const say = (socket: ReturnType<typeof ioClient>, author: string) =>
        socket.emitWithAck('message_event', { room_id: 'lobby', message_data: `hi from ${author}`, author }) as Promise<{ status: string; data: unknown }>;
      const fromC = await ioSocket(C);
      expect(await say(fromC, 'c-1')).toMatchObject({ status: 'success' });
      expect(await say(fromC, 'c-2')).toMatchObject({ status: 'success' });
      expect(await say(fromC, 'c-3')).toEqual({ status: 'failure', operation: 'message_event', data: 'Could not sign in c-3' });
      const fromD = await ioSocket(D);
      expect(await say(fromD, 'd-1')).toMatchObject({ status: 'success' });
    } finally {
      for (const socket of sockets) socket.close();
      await L.t.close();
    }
  });
});

describe('refusal logs under a flood', { timeout: 120_000 }, () => {
  it('logs the first refusal per limit in each window and counts the rest into the next line logged; the metric counts every one', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const t = await startTestApp({ LOG_REFUSALS_WINDOW_MS: '5000' }, undefined, logger);
    try {
      const logged = (limit: string) => lines.filter((l) => l.msg === 'refused' && (l.refusal as { limit?: string } | undefined)?.limit === limit);
      const counted = (scope: string) => refusalsCounted(t, scope);
      const before = await counted('depth');
      // Each document differs (by its operation name): the same one again is answered from the validation cache.
      const deep = (i: number) => nesting(15).replace('query Nest(', `query Nest${i}(`);
      const flood = await Promise.all(Array.from({ length: 100 }, (_, i) => post(t, deep(i), { id: 'x' })));
      expect(flood.map((r) => codes(r)[0])).toEqual(Array.from({ length: 100 }, () => 'DEPTH_LIMIT_EXCEEDED'));
      expect(logged('depth')).toHaveLength(1);
      expect(logged('depth')[0]).not.toHaveProperty('unlogged');
      expect((await counted('depth')) - before).toBe(100);

      // Another limit keeps its own window: its first refusal is logged at once.
      const many = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
      expect(codes(await post(t, many))).toEqual(['ALIAS_LIMIT_EXCEEDED']);
      expect(logged('aliases')).toHaveLength(1);

      // Once the window is over, the next refusal is logged, saying how many were not.
      await new Promise((resolve) => setTimeout(resolve, 5100));
      const startedAt = Date.now();
      expect(codes(await post(t, deep(100), { id: 'x' }))).toEqual(['DEPTH_LIMIT_EXCEEDED']);
      const [first, next] = logged('depth');
      expect(logged('depth')).toHaveLength(2);
      expect(next).toMatchObject({ unlogged: 99, level: 40 });
      const since = Date.parse(next!.unloggedSince as string);
      expect(since).toBeGreaterThanOrEqual(first!.time as number);
      expect(since).toBeLessThan(startedAt);
    } finally {
      await t.close();
    }
  });
});

describe('request size and parse caches', { timeout: 120_000 }, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses a request over GRAPHQL_MAX_BODY_BYTES unread over HTTP (413, sized or chunked) and over graphql-ws (1009); nothing runs', async () => {
    const small = await startTestApp({ GRAPHQL_MAX_BODY_BYTES: String(64 * 1024) });
    try {
      const users = await small.app.services.db.user.count();
      const signUp = `mutation { signUp(input: { email: "big-body@example.com", password: "password-123", displayName: "x" }) { __typename } }`;
      const refusedBefore = await refusalsCounted(small, 'GRAPHQL_MAX_BODY_BYTES');
      // An unused variable is ignored by GraphQL: under the limit, this would sign up.
      const big = await post(small, signUp, { pad: 'x'.repeat(100_000) });
      expect(big.status).toBe(413);
      expect(codes(big)).toEqual(['REQUEST_ENTITY_TOO_LARGE']);
      expect(big.errors![0]!.message).toMatch(/larger than 65536 bytes \(GRAPHQL_MAX_BODY_BYTES\); nothing ran/);

      // Without a Content-Length (chunked), it is refused once the limit is passed.
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${small.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        const json = JSON.stringify({ query: signUp, variables: { pad: 'x'.repeat(100_000) } });
        for (let i = 0; i < json.length; i += 10_000) req.write(json.slice(i, i + 10_000));
        req.end();
      });
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body).errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
      expect((await refusalsCounted(small, 'GRAPHQL_MAX_BODY_BYTES')) - refusedBefore).toBe(2);

      // graphql-ws: the same setting bounds a message; the socket is closed with 1009.
      const socket = new WebSocket(small.wsUrl, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(100_000) } }));
      expect(await closed).toBe(1009);
      expect(await small.app.services.db.user.count()).toBe(users);

      // Under the limit, the same sign-up runs.
      expect((await post(small, signUp, { pad: 'x'.repeat(10_000) })).data).toEqual({ signUp: { __typename: expect.any(String) } });
      expect(await small.app.services.db.user.count()).toBe(users + 1);
    } finally {
      await small.close();
    }
  });

  it('keep the documents they parsed within a byte budget: distinct 600 KB documents are answered and not kept', async () => {
    const caches = t.app.services.defenses.documentCaches;
    const small = 'query CachedSmall { __typename }';
    expect((await post(t, small)).data).toEqual({ __typename: 'Query' });
    // Ours are the caches Yoga parses through: the small document is kept.
    expect(caches.holds(small).document).toBe(true);
    // Each `{ __typename }` behind a 600 KB comment (distinct texts). Before the budget (and the
    // body limit), 262 such at 13 MB ended the process: V8's heap held every text.
    const padded = (i: number) => `# ${i} ${'x'.repeat(600_000)}\nquery Padded${i} { __typename }`;
    for (let i = 0; i < 12; i++) expect((await post(t, padded(i))).data).toEqual({ __typename: 'Query' });
    expect(caches.holds(padded(3)).document).toBe(false);
    const { bytes } = caches.usage();
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(512 * 1024);
    // A refused 840 KB flood is refused again by the token limit, not kept as an error either.
    const flood = `{ ${'a: __typename '.repeat(60_000)}}`;
    expect(codes(await post(t, flood))).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    expect(caches.holds(flood).error).toBe(false);
  });

  it('count and log a refusal answered from a cache like any other', async () => {
    const deep = nesting(15).replace('query Nest(', 'query NestCached(');
    const depthBefore = await refusalsCounted(t, 'depth');
    for (let i = 0; i < 3; i++) expect(codes(await post(t, deep, { id: 'x' }))).toEqual(['DEPTH_LIMIT_EXCEEDED']);
    expect((await refusalsCounted(t, 'depth')) - depthBefore).toBe(3);

    // Short enough for its parse error to be cached: the second and third are answered from it.
    const tokens = `query TokensCached { ${'a '.repeat(2100)}}`;
    const tokensBefore = await refusalsCounted(t, 'tokens');
    for (let i = 0; i < 3; i++) expect(codes(await post(t, tokens))).toEqual(['TOKEN_LIMIT_EXCEEDED']);
    expect(t.app.services.defenses.documentCaches.holds(tokens).error).toBe(true);
    expect((await refusalsCounted(t, 'tokens')) - tokensBefore).toBe(3);
  });
});

describe('trusted documents', { timeout: 120_000 }, () => {
  it('runs only the manifest’s documents over HTTP and graphql-ws (by hash or in full); the legacy shim’s operations still run', async () => {
    const trustedQuery = 'query TrustedTypename { __typename }';
    const hash = createHash('sha256').update(trustedQuery).digest('hex');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'trusted-'));
    const file = path.join(dir, 'persisted-documents.json');
    writeFileSync(file, JSON.stringify({ [hash]: trustedQuery }));
    const t = await startTestApp({ TRUSTED_DOCUMENTS_FILE: file });
    try {
      const byHash = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
      });
      expect(await byHash.json()).toEqual({ data: { __typename: 'Query' } });
      expect((await post(t, trustedQuery)).data).toEqual({ __typename: 'Query' });
      const other = await post(t, '{ __typename }');
      expect(codes(other)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      const users = await t.app.services.db.user.count();
      expect(codes(await post(t, `mutation { signUp(input: { email: "td@example.com", password: "password-123", displayName: "x" }) { __typename } }`))).toEqual([
        'PERSISTED_QUERY_NOT_FOUND',
      ]);
      expect(await t.app.services.db.user.count()).toBe(users);

      const client = wsClient(t);
      expect((await wsRun(client, trustedQuery)).data).toEqual({ __typename: 'Query' });
      expect(codes(await wsRun(client, '{ __typename }'))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      await client.dispose();

      const shim = await createExecutor(t.app.yoga).run(parse('query ShimOwn { __typename }') as never, {}, { kind: 'none' });
      expect(shim.data).toEqual({ __typename: 'Query' });
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
