/**
 * A graphql-ws connection's operations reuse the viewer it authenticated (src/auth/standing.ts):
 * no authentication statement per operation, yet on the same open connection an expired token,
 * a revoked key, a removed member or a changed role is seen from the next operation on, and a
 * new membership is usable at once, on this instance and (PostgreSQL + Redis) on another.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { graphql } from './gql/index.js';
import { QUIET_BACKGROUND, TEST_JWT_SECRET, startTestApp, until, wsOnce, type TestApp } from './helpers/app.js';
import { usingPostgres, usingRedis } from './helpers/database.js';
import { person, workspace } from './helpers/fixtures.js';
import { apiKey } from './helpers/support.js';
import { ConnectionViewers } from '../src/auth/standing.js';
import type { PubSub, PubSubHealth } from '../src/pubsub/pubsub.js';

const Me = graphql(`
  query WsViewerMe {
    me {
      id
    }
  }
`);

const WorkspaceRole = graphql(`
  query WsViewerWorkspace($id: ID!) {
    workspace(id: $id) {
      id
      viewerRole
    }
  }
`);

const Members = graphql(`
  query WsViewerMembers($id: ID!) {
    workspace(id: $id) {
      members {
        role
      }
    }
  }
`);

const AddMember = graphql(`
  mutation WsViewerAddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const RemoveMember = graphql(`
  mutation WsViewerRemoveMember($workspaceId: ID!, $userId: ID!) {
    removeWorkspaceMember(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const Keys = graphql(`
  query WsViewerKeys($id: ID!) {
    workspace(id: $id) {
      apiKeys {
        id
        revokedAt
      }
    }
  }
`);

const RevokeKey = graphql(`
  mutation WsViewerRevokeKey($id: ID!) {
    revokeApiKey(id: $id) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

let t: TestApp;
const CreateRoom = graphql(`
  mutation ViewerCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const SendMessage = graphql(`
  mutation ViewerSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        seq
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const RemoveFromRoom = graphql(`
  mutation ViewerRemoveFromRoom($conversationId: ID!, $userId: ID!) {
    removeConversationMember(conversationId: $conversationId, userId: $userId) {
      __typename
    }
  }
`);

const clients: Client[] = [];

beforeAll(async () => {
  // Statements are counted in windows: background work that queries on timers stays out of them.
  t = await startTestApp(QUIET_BACKGROUND);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});
afterAll(async () => {
  await t?.close();
});

/** A graphql-ws client that connects at once and stays connected (no retry): `connects` must stay 1. */
async function connect(app: TestApp, authorization: string): Promise<Client & { connects: number }> {
  let connects = 0;
  const client = createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${authorization}` },
    on: { connected: () => void connects++ },
  });
  clients.push(client);
  await until(() => connects === 1);
  return Object.defineProperty(client, 'connects', { get: () => connects }) as Client & { connects: number };
}

/** One operation on an open connection: its result, or the errors it was refused with. */
function run<R, V>(client: Client, document: TypedDocumentNode<R, V>, variables?: V): Promise<ExecutionResult<R>> {
  // Refused before it ran (graphql-ws' `error` message): the errors as the result.
  return wsOnce(client, document, variables).catch((errors: unknown) => ({ errors: errors as ExecutionResult<R>['errors'] }));
}

const codeOf = (result: ExecutionResult<unknown>) => (result.errors?.[0]?.extensions as { code?: string } | undefined)?.code;

describe('a graphql-ws connection reuses its viewer', () => {
  it('authenticates with no statement per operation: one statement fewer than the same query over HTTP', async () => {
    const me = await person(t, 'counted');
    const client = await connect(t, me.token);
    // The first operations may come before this instance's standing subscription is confirmed.
    await until(async () => {
      const before = t.app.database.stats.statements;
      await run(client, Me);
      return t.app.database.stats.statements - before <= 1;
    });
    const statements = async (op: () => Promise<ExecutionResult<{ me: { id: string } | null }>>) => {
      const before = t.app.database.stats.statements;
      const result = await op();
      expect(result.data?.me?.id).toBe(me.id);
      return t.app.database.stats.statements - before;
    };
    const overHttp = await statements(() => t.exec(Me, undefined, { token: me.token }));
    const overWs = await statements(() => run(client, Me));
    expect(overWs).toBe(overHttp - 1);
    expect(client.connects).toBe(1);
  });

  it('refuses the next operation on the same connection once the member is removed; a role change is seen at once', async () => {
    const ws = await workspace(t, { bob: 'AGENT', cal: 'AGENT' });
    const bob = await connect(t, ws.people.bob!.token);
    const cal = await connect(t, ws.people.cal!.token);
    expect((await run(bob, WorkspaceRole, { id: ws.id })).data?.workspace).toEqual({ id: ws.id, viewerRole: 'AGENT' });
    expect((await run(cal, Members, { id: ws.id })).data?.workspace.members).toHaveLength(3);

    const removed = await t.exec(RemoveMember, { workspaceId: ws.id, userId: ws.people.bob!.id }, { token: ws.admin.token });
    expect(removed.data?.removeWorkspaceMember.__typename).toBe('Workspace');
    const refused = await run(bob, WorkspaceRole, { id: ws.id });
    expect(codeOf(refused)).toBe('NOT_FOUND');

    // Made a client: still in the workspace, no longer staff.
    const demoted = await t.exec(AddMember, { input: { workspaceId: ws.id, email: ws.people.cal!.email, role: 'CLIENT' } }, { token: ws.admin.token });
    expect(demoted.data?.addWorkspaceMember.__typename).toBe('Membership');
    expect((await run(cal, WorkspaceRole, { id: ws.id })).data?.workspace).toEqual({ id: ws.id, viewerRole: 'CLIENT' });
    expect(codeOf(await run(cal, Members, { id: ws.id }))).toMatch(/^(FORBIDDEN|NOT_FOUND)$/);
    expect([bob.connects, cal.connects]).toEqual([1, 1]);
  });

  it('checks a connection’s write access to a conversation once, and again after it was removed from it: the next send is NOT_FOUND', async () => {
    const ws = await workspace(t, { dan: 'CLIENT' });
    const dan = ws.people.dan!;
    const created = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Kept', memberIds: [dan.id] } }, { token: ws.admin.token })).data!.createRoom;
    if (created.__typename !== 'Room') throw new Error(JSON.stringify(created));
    const client = await connect(t, dan.token);
    const send = (body: string) => run(client, SendMessage, { input: { conversationId: created.id, body } });
    // The first sends read the conversation and the membership (the standing subscription may
    // still be confirming); then a send costs no access read.
    const cost = async (body: string) => {
      const before = t.app.database.stats.statements;
      expect((await send(body)).data?.sendMessage.__typename).toBe('Message');
      return t.app.database.stats.statements - before;
    };
    await until(async () => (await cost('warm')) < (await cost('warm again')) + 1);
    const first = await cost('one');
    const second = await cost('two');
    expect(second).toBe(first);
    const overHttp = async () => {
      const before = t.app.database.stats.statements;
      const answer = await t.exec(SendMessage, { input: { conversationId: created.id, body: 'over http' } }, { token: dan.token });
      expect(answer.data?.sendMessage.__typename).toBe('Message');
      return t.app.database.stats.statements - before;
    };
    // HTTP reads the viewer and the access on every request: two statements more.
    expect(await overHttp()).toBe(second + 2);

    const removed = await t.exec(RemoveFromRoom, { conversationId: created.id, userId: dan.id }, { token: ws.admin.token });
    expect(removed.data?.removeConversationMember.__typename).toBe('MutationRemoveConversationMemberSuccess');
    const refused = await send('after removal');
    expect(refused.data?.sendMessage).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await t.app.services.db.message.count({ where: { body: 'after removal' } })).toBe(0);
    expect(client.connects).toBe(1);
  });

  it('acts at once in a workspace the user was just added to, on the connection opened before', async () => {
    const ws = await workspace(t);
    const dan = await person(t, 'dan');
    const client = await connect(t, dan.token);
    expect(codeOf(await run(client, WorkspaceRole, { id: ws.id }))).toBe('NOT_FOUND');
    await t.exec(AddMember, { input: { workspaceId: ws.id, email: dan.email, role: 'AGENT' } }, { token: ws.admin.token });
    expect((await run(client, WorkspaceRole, { id: ws.id })).data?.workspace).toEqual({ id: ws.id, viewerRole: 'AGENT' });
    expect(client.connects).toBe(1);
  });

  it('refuses the next operation of a connection whose API key was revoked with UNAUTHENTICATED', async () => {
    const ws = await workspace(t);
    const secret = await apiKey(t, ws.id, ws.admin.token);
    const client = await connect(t, secret);
    const keys = (await run(client, Keys, { id: ws.id })).data?.workspace.apiKeys;
    expect(keys).toHaveLength(1);
    const revoked = await t.exec(RevokeKey, { id: keys![0]!.id }, { token: ws.admin.token });
    expect(revoked.data?.revokeApiKey.__typename).toBe('ApiKey');
    const refused = await run(client, Keys, { id: ws.id });
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    expect(refused.errors?.[0]?.message).toMatch(/revoked/);
    expect(client.connects).toBe(1);
  });

  it('refuses the next operation once the access token expired, without a reconnect, as HTTP does', async () => {
    const me = await person(t, 'lapsing');
    const now = Math.floor(Date.now() / 1000);
    const exp = now + 2;
    const token = await new SignJWT({ kind: 'user' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(me.id)
      .setIssuer('chat-backend')
      .setAudience('chat-api')
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const client = await connect(t, token);
    expect((await run(client, Me)).data?.me?.id).toBe(me.id);
    await until(() => Date.now() / 1000 >= exp, 5000);
    const refused = await run(client, Me);
    const overHttp = await t.exec(Me, undefined, { token });
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    expect(refused.errors?.[0]?.message).toBe(overHttp.errors?.[0]?.message);
    expect(refused.errors?.[0]?.message).toMatch(/expired.*refreshSession/);
    expect(client.connects).toBe(1);
  });

  // Two instances need a shared database and Redis: the CI's PostgreSQL + Redis pass.
  it.skipIf(!(usingPostgres && usingRedis))('a member removed through instance A is refused at once on a connection to instance B', async () => {
    const b = await startTestApp(QUIET_BACKGROUND, t.db);
    try {
      const ws = await workspace(t, { eve: 'AGENT' });
      const onB = await connect(b, ws.people.eve!.token);
      expect((await run(onB, WorkspaceRole, { id: ws.id })).data?.workspace).toEqual({ id: ws.id, viewerRole: 'AGENT' });
      const removed = await t.exec(RemoveMember, { workspaceId: ws.id, userId: ws.people.eve!.id }, { token: ws.admin.token });
      expect(removed.data?.removeWorkspaceMember.__typename).toBe('Workspace');
      expect(codeOf(await run(onB, WorkspaceRole, { id: ws.id }))).toBe('NOT_FOUND');
      // And added back through A: usable at once on B.
      await t.exec(AddMember, { input: { workspaceId: ws.id, email: ws.people.eve!.email, role: 'ADMIN' } }, { token: ws.admin.token });
      expect((await run(onB, WorkspaceRole, { id: ws.id })).data?.workspace).toEqual({ id: ws.id, viewerRole: 'ADMIN' });
      expect(onB.connects).toBe(1);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.dispose()));
      await b.stop();
    }
  });
});

describe('the kept viewers of an instance (src/auth/standing.ts)', () => {
  /** The app's services with a pub/sub whose health the test sets (the real one otherwise). */
  function servicesWith(health: { up: boolean }, config: Partial<TestApp['app']['services']['config']> = {}) {
    const services = t.app.services;
    const pubsub = Object.create(services.pubsub) as PubSub;
    Object.defineProperty(pubsub, 'health', { get: (): PubSubHealth => (health.up ? { up: true } : { up: false, reason: 'test' }) });
    return { ...services, pubsub, config: { ...services.config, ...config } };
  }

  /** Statements the database ran for one viewerFor. */
  async function cost(viewers: ConnectionViewers, kept: Awaited<ReturnType<ConnectionViewers['open']>>): Promise<number> {
    const before = t.app.database.stats.statements;
    await viewers.viewerFor(kept);
    return t.app.database.stats.statements - before;
  }

  it('authenticates per operation while pub/sub is down, reads every kept viewer again once it is back, and forgets a released one', async () => {
    const me = await person(t, 'outage');
    const health = { up: true };
    const viewers = new ConnectionViewers(servicesWith(health));
    const stop = viewers.start();
    try {
      const kept = await viewers.open({ kind: 'bearer', value: me.token });
      // Once the subscription is confirmed, the kept viewer is read once more, then reused.
      await until(async () => (await cost(viewers, kept)) === 0);
      expect(await cost(viewers, kept)).toBe(0);
      health.up = false;
      expect([await cost(viewers, kept), await cost(viewers, kept)]).toEqual([1, 1]);
      health.up = true;
      expect([await cost(viewers, kept), await cost(viewers, kept)]).toEqual([1, 0]);
      expect(viewers.size).toBe(1);
      viewers.release(kept);
      expect(viewers.size).toBe(0);
    } finally {
      await stop();
    }
  });

  it('reads a viewer again once it is older than WS_VIEWER_MAX_AGE_SECONDS (0: every operation)', async () => {
    const me = await person(t, 'aging');
    const viewers = new ConnectionViewers(servicesWith({ up: true }, { WS_VIEWER_MAX_AGE_SECONDS: 0 }));
    const stop = viewers.start();
    try {
      const kept = await viewers.open({ kind: 'bearer', value: me.token });
      await new Promise((r) => setTimeout(r, 50));
      expect([await cost(viewers, kept), await cost(viewers, kept)]).toEqual([1, 1]);
      viewers.release(kept);
    } finally {
      await stop();
    }
  });
});
